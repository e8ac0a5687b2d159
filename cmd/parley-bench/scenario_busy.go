package main

import (
	"time"
)

func init() {
	register(&Scenario{
		Name:        "busy",
		Help:        "the busy conversation: C concurrent durable sends from one session into one conversation, one receiver streaming (compare send at the same C)",
		Concurrency: 64,
		Run:         runBusy,
	})
}

// runBusy measures what send spreads over many conversations, gathered on
// one: one sender session keeps C sends in flight into one one-to-one
// conversation, whose other member streams. Every send of the window
// contends for the same conversation's order and the same session.
func runBusy(env *Env) error {
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	ctx, rep := env.Ctx, env.Report
	rep.Param("conversations", 1)
	rep.Param("sender_sessions", 1)
	rep.Param("receivers_streaming", 1)
	tokens, err := c.LoginAll(ctx, []string{"sender", "receiver"})
	if err != nil {
		return err
	}
	conv, err := c.CreateConversation(ctx, tokens[0], []string{"receiver"})
	if err != nil {
		return err
	}
	senders := make([]senderSpec, env.Concurrency)
	for i := range senders {
		senders[i] = senderSpec{Token: tokens[0], Convs: []string{conv}}
	}
	w := &window{}
	rs, err := c.OpenStreams(ctx, tokens[1:], w)
	if err != nil {
		return err
	}
	defer closeAll(rs)

	w.set(time.Now().Add(env.Warmup), env.Duration)
	env.ProfileWindow(w.Start(), env.Duration)
	cpu := env.CPUWindow(w)
	progress("busy: %d concurrent sends from one session into one conversation for %s + %s warm-up", env.Concurrency, env.Duration, env.Warmup)
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
	drain(ctx, rs, res.OK)
	totals := streamTotals(rs)

	reportSends(rep, res, true)
	reportDeliveries(rep, totals, res.OK, res.Elapsed, false)
	rep.Metric("streams_ended", "streams ended by the server", float64(endedEarly(rs)), "")
	reportServerMetrics(rep, m0, m1, time.Since(w.Start()))
	env.ReportCPU(cpu)
	rep.Note("compare with -scenario send at the same -concurrency: the target is a busy conversation at least as fast as sends spread over many")
	return nil
}
