package main

import (
	"flag"
	"fmt"
	"time"
)

var sendConvs = flag.Int("convs", 1, "send: one-to-one conversations per sender, each with its own streaming receiver")

func init() {
	register(&Scenario{
		Name:        "send",
		Help:        "durable one-to-one sends: C keep-alive senders, each to its own conversation(s), every receiver streaming; -rate R for a fixed total rate",
		Concurrency: 64,
		Run:         runSend,
	})
}

func runSend(env *Env) error {
	overGateway, err := useGateway()
	if err != nil {
		return err
	}
	var gw *slowGateway
	if *pushDelay > 0 {
		if gw, err = startSlowGateway(*pushDelay); err != nil {
			return err
		}
		defer gw.Close()
		env.serverArgs = append(env.serverArgs, "-push-gateway-url", gw.URL)
	}
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	ctx, rep := env.Ctx, env.Report
	n, k := env.Concurrency, max(*sendConvs, 1)
	rep.Param("conversations", n*k)
	rep.Param("receivers_streaming", n*k)
	rep.Param("transport", *transport)
	if gw != nil {
		rep.Param("push", fmt.Sprintf("a gateway answering after %s; a third member per conversation, offline, with a device", *pushDelay))
	}

	ids := make([]string, 0, n+n*k)
	for i := 0; i < n; i++ {
		ids = append(ids, fmt.Sprintf("sender%d", i))
	}
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			ids = append(ids, fmt.Sprintf("receiver%d.%d", i, j))
		}
	}
	tokens, err := c.LoginAll(ctx, ids)
	if err != nil {
		return err
	}
	senders := make([]senderSpec, n)
	for i := range senders {
		senders[i] = senderSpec{Token: tokens[i], ClientID: ids[i], Convs: make([]string, k)}
	}
	var phones []string // offline members with a device, when pushing
	if gw != nil {
		for x := 0; x < n*k; x++ {
			phones = append(phones, fmt.Sprintf("phone%d", x))
		}
		phoneTokens, err := c.LoginAll(ctx, phones)
		if err != nil {
			return err
		}
		if err := parallel(ctx, len(phones), 16, func(x int) error {
			return c.RegisterDevice(ctx, phoneTokens[x], "device-of-"+phones[x])
		}); err != nil {
			return err
		}
	}
	err = parallel(ctx, n*k, 16, func(x int) error {
		i, j := x/k, x%k
		members := []string{ids[n+x]}
		if gw != nil {
			members = append(members, phones[x])
		}
		id, err := c.CreateConversation(ctx, tokens[i], members)
		senders[i].Convs[j] = id
		return err
	})
	if err != nil {
		return err
	}
	w := &window{}
	var rs []*Receiver
	if overGateway {
		rs, err = c.OpenGatewayReceivers(ctx, ids[n:], w)
	} else {
		rs, err = c.OpenStreams(ctx, tokens[n:], w)
	}
	if err != nil {
		return err
	}
	defer closeAll(rs)

	progress("send: %d senders over %d conversations for %s + %s warm-up", n, n*k, env.Duration, env.Warmup)
	gatewayURL := ""
	if overGateway {
		gatewayURL = c.gatewayURL()
	}
	if err := measureSends(env, c, senders, w, rs, gatewayURL); err != nil {
		return err
	}

	if gw != nil {
		rep.Metric("push_gateway_requests", "push gateway requests (all of the run)", float64(gw.received.Load()), "")
	}
	if env.Rate == 0 {
		rep.TargetFigure("send: at least 20,000 durable msgs/s", "ops_per_sec", 20000, false)
		rep.TargetFigure("send: at least 50% of baseline", "ratio_to_baseline", 0.5, false)
	} else {
		name := "send: delivery p99 under 10 ms at 2,000 msgs/s"
		if env.Rate != 2000 {
			name = fmt.Sprintf("send: delivery p99 under 10 ms (at %g msgs/s; the target is stated at 2,000)", env.Rate)
		}
		rep.TargetFigure(name, "delivery_p99_ms", 10, true)
	}
	if env.dbSync != "full" {
		rep.Note("db-sync %s: a 201 is not fsynced; the targets are for durable (full) sends", env.dbSync)
	}
	return nil
}

// measureSends runs the senders over the measured window w, with the
// receivers rs streaming, and reports the sends, their deliveries, the
// server's metrics, RSS and CPU: the measurement of send and busy.
// With gateway set, the senders send over the realtime gateway at that URL.
func measureSends(env *Env, c *Client, senders []senderSpec, w *window, rs []*Receiver, gateway string) error {
	ctx, rep := env.Ctx, env.Report
	w.set(time.Now().Add(env.Warmup), env.Duration)
	env.ProfileWindow(w.Start(), env.Duration)
	cpu := env.CPUWindow(w)
	load := &sendLoad{Base: c.Base, HTTP: c.HTTP, Senders: senders, Rate: env.Rate, Window: w, Gateway: gateway}
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
	ended := endedEarly(rs)
	totals := streamTotals(rs)

	reportSends(rep, res, true)
	reportDeliveries(rep, totals, res.OK, res.Elapsed, false)
	rep.Metric("streams_ended", "streams ended by the server", float64(ended), "")
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS", float64(rss)/1024, "MiB")
	}
	reportServerMetrics(rep, m0, m1, time.Since(w.Start()))
	u := env.ReportCPU(cpu)
	if u.ServerWrites >= 0 && res.OK > 0 {
		// System calls are what batching saves, and unlike CPU time
		// they do not depend on how busy the machine is.
		rep.Metric("server_reads_per_msg", "server read system calls per send", float64(u.ServerReads)/float64(res.OK), "")
		rep.Metric("server_writes_per_msg", "server write system calls per send", float64(u.ServerWrites)/float64(res.OK), "")
	}
	return nil
}
