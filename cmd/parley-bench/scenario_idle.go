package main

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

var idleStreams = flag.Int("streams", 2000, "idle: event streams to open and hold; room: streaming sessions in the chat room (room's default 5000 when not given)")

func init() {
	register(&Scenario{
		Name:        "idle",
		Help:        "N idle event streams (-streams, default 2000; gateway sessions with -transport gateway) held for the duration: server RSS before and after, KiB per stream",
		Concurrency: 64,
		Run:         runIdle,
	})
}

func runIdle(env *Env) error {
	gw, err := useGateway()
	if err != nil {
		return err
	}
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	ctx, rep := env.Ctx, env.Report
	n := *idleStreams
	rep.Param("streams", n)
	rep.Param("transport", *transport)
	if _, ok := env.RSSKiB(); !ok {
		return errors.New("idle measures the server's RSS: run it on its own server, or give -pid with -url")
	}
	settle := func() int64 {
		time.Sleep(time.Second)
		v, _ := env.RSSKiB()
		return v
	}
	rss0 := settle()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("idle%d", i)
	}
	// Over REST a client logs in, then opens its stream; over the gateway
	// both are one step, so rss_per_client_kib is what compares the two.
	var tokens []string
	if !gw {
		if tokens, err = c.LoginAll(ctx, ids); err != nil {
			return err
		}
	}
	rss1 := settle()
	mem1 := env.MemStats()
	var rs []*Receiver
	if gw {
		rs, err = c.OpenGatewayReceivers(ctx, ids, nil)
	} else {
		rs, err = c.OpenStreams(ctx, tokens, nil)
	}
	if err != nil {
		return err
	}
	defer closeAll(rs)
	progress("idle: holding %d streams for %s", n, env.Duration)
	start := time.Now()
	cpu := env.CPU()
	var peak, rss2 int64
	for time.Since(start) < env.Duration && ctx.Err() == nil {
		time.Sleep(min(time.Second, env.Duration-time.Since(start)))
		if v, ok := env.RSSKiB(); ok {
			rss2, peak = v, max(peak, v)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	env.HeapProfile()
	mem2 := env.MemStats()
	ended := endedEarly(rs)

	rep.Metric("rss_before_mib", "server RSS, started", float64(rss0)/1024, "MiB")
	rep.Metric("rss_logged_in_mib", fmt.Sprintf("server RSS, %d clients logged in", n), float64(rss1)/1024, "MiB")
	rep.Metric("rss_mib", fmt.Sprintf("server RSS, %d streams open", n), float64(rss2)/1024, "MiB")
	rep.Metric("rss_peak_mib", "server RSS, peak while held", float64(peak)/1024, "MiB")
	rep.Metric("rss_per_stream_kib", "RSS per open stream", float64(rss2-rss1)/float64(n), "KiB")
	rep.Metric("rss_per_client_kib", "RSS per client (login + stream)", float64(rss2-rss0)/float64(n), "KiB")
	if mem1 != nil && mem2 != nil {
		// Where the streams' memory is (runtime figures; -cpuprofile only).
		for _, k := range []struct{ name, key, label string }{
			{"HeapInuse", "heap_inuse_kib_per_stream", "of which Go heap in use"},
			{"Stack", "stack_kib_per_stream", "of which goroutine stacks"},
		} {
			rep.Metric(k.key, k.label, (mem2[k.name]-mem1[k.name])/1024/float64(n), "KiB")
		}
	}
	rep.Metric("streams_ended", "streams ended by the server", float64(ended), "")
	env.ReportCPU(cpu)
	rep.TargetFigure("idle: at most 40 KiB of server RSS per open stream", "rss_per_stream_kib", 40, true)
	return nil
}
