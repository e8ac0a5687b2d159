package main

import (
	"flag"
	"fmt"
	"time"
)

var groupMembers = flag.Int("members", 500, "group: members of the conversation, all streaming")

func init() {
	register(&Scenario{
		Name:        "group",
		Help:        "fan-out: one conversation of -members members (default 500), all streaming; C of them send, flat out or at -rate",
		Concurrency: 16,
		Run:         runGroup,
	})
}

func runGroup(env *Env) error {
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	ctx, rep := env.Ctx, env.Report
	m := *groupMembers
	n := env.Concurrency
	if m < 2 || n > m {
		return fmt.Errorf("group needs at least 2 members and at most -members senders (members %d, concurrency %d)", m, n)
	}
	rep.Param("members", m)
	rep.Param("senders", n)

	ids := make([]string, m)
	for i := range ids {
		ids[i] = fmt.Sprintf("member%d", i)
	}
	tokens, err := c.LoginAll(ctx, ids)
	if err != nil {
		return err
	}
	conv, err := c.CreateConversation(ctx, tokens[0], ids[1:])
	if err != nil {
		return err
	}
	w := &window{}
	rs, err := c.OpenStreams(ctx, tokens, w)
	if err != nil {
		return err
	}
	defer closeAll(rs)
	senders := make([]senderSpec, n)
	for i := range senders {
		senders[i] = senderSpec{Token: tokens[i], Convs: []string{conv}}
	}

	w.set(time.Now().Add(env.Warmup), env.Duration)
	env.ProfileWindow(w.Start(), env.Duration)
	cpu := env.CPUWindow(w)
	progress("group: %d senders to %d streaming members for %s + %s warm-up", n, m, env.Duration, env.Warmup)
	load := &sendLoad{Base: c.Base, HTTP: c.HTTP, Senders: senders, Rate: env.Rate, Window: w}
	m0c := make(chan map[string]float64, 1)
	go func() {
		time.Sleep(time.Until(w.Start()))
		m0c <- scrapeMetrics(ctx, c)
	}()
	res := load.run(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	m0, m1 := <-m0c, scrapeMetrics(ctx, c)
	// Every member's session but the sender's gets each message.
	owed := res.OK * int64(m-1)
	drain(ctx, rs, owed)
	ended := endedEarly(rs)
	totals := streamTotals(rs)

	// The headline latency of fan-out is delivery's.
	reportSends(rep, res, false)
	reportDeliveries(rep, totals, owed, res.Elapsed, true)
	rep.Metric("streams_ended", "streams ended by the server", float64(ended), "")
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS", float64(rss)/1024, "MiB")
	}
	reportServerMetrics(rep, m0, m1, time.Since(w.Start()))
	env.ReportCPU(cpu)
	rep.TargetFigure("group: at least 300,000 deliveries/s", "deliveries_per_sec", 300000, false)
	rep.TargetFigure("group: delivery p99 under 100 ms", "delivery_p99_ms", 100, true)
	return nil
}
