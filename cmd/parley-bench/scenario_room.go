package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// room shares -streams with idle (flags are global); its own default is
// roomDefaultStreams when -streams is not given.
const (
	roomDefaultStreams = 5000
	roomTargetRate     = 300_000 // deliveries/s of the target (issue 4)
	roomPerSource      = 10_000  // streams per 127.0.0.x source address
	// Descriptors besides the streams, in the tool (request connections,
	// the setup's concurrent logins) and in the server (SQLite's files, the
	// senders' connections, listeners): the streams take one each in both.
	roomFDMargin = 256
)

var roomJoinWorkers = flag.Int("room-setup-workers", 64, "room: concurrent logins, joins and stream opens while setting up")

func init() {
	register(&Scenario{
		Name: "room",
		Help: "a chat room of -streams streaming sessions (default 5,000) and C seated senders (default 4) at -rate msgs/s " +
			"(default: 300,000 / streams, the target's deliveries/s): deliveries/s, delivery latency, dropped room events",
		Concurrency: 4,
		NoBaseline:  true, // a fixed-rate fan-out: no ratio to a flat-out ceiling
		Run:         runRoom,
	})
}

// flagGiven reports whether a flag was set on the command line.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// raiseNoFile raises this process's open-file limit (soft and hard) to at
// least n; the server subprocess inherits it (a Go program that sets
// RLIMIT_NOFILE itself passes it on to its children unchanged). Without
// CAP_SYS_RESOURCE the hard limit cannot grow: then n must fit under it.
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n && lim.Max >= n {
		return nil
	}
	want := syscall.Rlimit{Cur: max(lim.Cur, n), Max: max(lim.Max, n)}
	if lim.Max >= n {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE from %d/%d to %d: %w: the hard limit of this machine allows at most %d streams (raise it with ulimit -Hn as a privileged user)",
			lim.Cur, lim.Max, n, err, max(int64(lim.Max)-roomFDMargin, 0))
	}
	progress("RLIMIT_NOFILE raised from %d/%d to %d/%d (the server inherits it)", lim.Cur, lim.Max, want.Cur, want.Max)
	return nil
}

// sourceStreams is an HTTP client for event streams whose connections come
// from several loopback source addresses (127.0.0.2, .3, ...), k streams
// each, so that tens of thousands of streams to one server port do not run
// out of ephemeral ports. Against a server that is not on a loopback address
// it is the ordinary stream client.
func sourceStreams(base string, streams, perSource int) (*http.Client, int) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, 0
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return nil, 0
	}
	n := max(1, (streams+perSource-1)/perSource)
	addrs := make([]*net.TCPAddr, n)
	for i := range addrs {
		addrs[i] = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
	}
	var next atomic.Uint64
	t := newTransport(4)
	t.ReadBufferSize, t.WriteBufferSize = 4<<10, 4<<10
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
			LocalAddr: addrs[int(next.Add(1)-1)%len(addrs)]}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: t}, n
}

// writeSyscalls is how many write system calls a process made so far
// (syscw of /proc/PID/io).
func writeSyscalls(pid int) (int64, bool) {
	if pid == 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func runRoom(env *Env) error {
	ctx, rep := env.Ctx, env.Report
	n := *idleStreams
	if !flagGiven("streams") {
		n = roomDefaultStreams
	}
	senders := env.Concurrency
	if n < 1 || senders < 1 {
		return fmt.Errorf("room needs at least one stream and one sender (streams %d, concurrency %d)", n, senders)
	}
	rate := env.Rate
	if rate <= 0 {
		rate = math.Ceil(roomTargetRate / float64(n))
	}
	env.Rate = rate
	rep.Param("rate", rate)
	rep.Param("streams", n)
	rep.Param("senders", fmt.Sprintf("%d seated sessions without a stream", senders))
	rep.Param("priority", "normal (the default)")

	if env.Own() {
		if err := raiseNoFile(uint64(n) + uint64(senders) + roomFDMargin); err != nil {
			return err
		}
	}
	c, err := env.StartServer()
	if err != nil {
		return err
	}
	streamsHTTP, sources := sourceStreams(c.Base, n, roomPerSource)
	if streamsHTTP != nil {
		sc := *c
		sc.Streams = streamsHTTP
		defer streamsHTTP.CloseIdleConnections()
		c = &sc
		rep.Param("source_addresses", fmt.Sprintf("127.0.0.2–127.0.0.%d (%d streams each at most)", 1+sources, roomPerSource))
	}

	// Setup, before the window: the senders log in, create the room and
	// join it; every receiver logs in, joins and opens its stream.
	setup := time.Now()
	sids := make([]string, senders)
	for i := range sids {
		sids[i] = fmt.Sprintf("room-sender%d", i)
	}
	stokens, err := c.LoginAll(ctx, sids)
	if err != nil {
		return err
	}
	var room struct {
		ID string `json:"id"`
	}
	if err := c.Call(ctx, http.MethodPost, "/v1/conversations", stokens[0],
		map[string]any{"kind": "chatroom", "name": "parley-bench room"}, &room, http.StatusCreated); err != nil {
		return err
	}
	joinPath := "/v1/conversations/" + url.PathEscape(room.ID) + "/join"
	for _, t := range stokens {
		if err := c.Call(ctx, http.MethodPost, joinPath, t, nil, nil, http.StatusOK); err != nil {
			return err
		}
	}

	w := &window{}
	rs := make([]*Receiver, n)
	defer func() { closeAll(rs) }()
	var loginNs, joinNs, openNs atomic.Int64
	var opened atomic.Int64
	workers := max(*roomJoinWorkers, 1)
	progress("room: %d sessions log in, join %s and open their streams (%d at a time)", n, room.ID, workers)
	stop := make(chan struct{})
	go func() { // progress every 5 s: setting up 20,000 sessions takes a while
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				progress("room: %d of %d streams open", opened.Load(), n)
			}
		}
	}()
	err = parallel(ctx, n, workers, func(i int) error {
		t0 := time.Now()
		tok, err := c.Login(ctx, fmt.Sprintf("room-member%d", i))
		if err != nil {
			return err
		}
		t1 := time.Now()
		if err := c.Call(ctx, http.MethodPost, joinPath, tok, nil, nil, http.StatusOK); err != nil {
			return err
		}
		t2 := time.Now()
		r, err := c.OpenStream(ctx, tok, w)
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, err)
		}
		rs[i] = r
		loginNs.Add(int64(t1.Sub(t0)))
		joinNs.Add(int64(t2.Sub(t1)))
		openNs.Add(int64(time.Since(t2)))
		opened.Add(1)
		return nil
	})
	close(stop)
	if err != nil {
		return err
	}
	setupTime := time.Since(setup)
	progress("room: %d sessions logged in, joined and streaming in %s", n, setupTime.Round(time.Millisecond))
	rep.Metric("setup_seconds", "setup: log in + join + open stream, all sessions", setupTime.Seconds(), "s")
	rep.Metric("setup_sessions_per_sec", "setup: sessions ready per second", float64(n)/setupTime.Seconds(), "sessions/s")
	per := func(v *atomic.Int64) float64 { return float64(v.Load()) / float64(n) / 1e6 }
	rep.Metric("setup_login_ms", "setup: login, mean per session", per(&loginNs), "ms")
	rep.Metric("setup_join_ms", "setup: join, mean per session", per(&joinNs), "ms")
	rep.Metric("setup_open_ms", "setup: stream open to hello, mean per session", per(&openNs), "ms")
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_ready_mib", "server RSS, all streams open", float64(rss)/1024, "MiB")
	}
	var count struct {
		Count int `json:"count"`
	}
	if err := c.Call(ctx, http.MethodGet, "/v1/conversations/"+url.PathEscape(room.ID)+"/members/count", stokens[0], nil, &count, http.StatusOK); err == nil {
		rep.Metric("room_online", "room: members/count (clients online in it)", float64(count.Count), "clients")
	}

	specs := make([]senderSpec, senders)
	for i := range specs {
		specs[i] = senderSpec{Token: stokens[i], Convs: []string{room.ID}}
	}
	w.set(time.Now().Add(env.Warmup), env.Duration)
	env.ProfileWindow(w.Start(), env.Duration)
	cpu := env.CPUWindow(w)
	progress("room: %d senders at %g msgs/s to %d streams for %s + %s warm-up", senders, rate, n, env.Duration, env.Warmup)
	load := &sendLoad{Base: c.Base, HTTP: c.HTTP, Senders: specs, Rate: rate, Window: w}
	m0c := make(chan map[string]float64, 1)
	go func() {
		time.Sleep(time.Until(w.Start()))
		m0c <- scrapeMetrics(ctx, c)
	}()
	var peak atomic.Int64
	rssDone := make(chan struct{})
	go func() { // the server's peak RSS over the window
		defer close(rssDone)
		for time.Now().Before(w.End()) && ctx.Err() == nil {
			if v, ok := env.RSSKiB(); ok && v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	sysc := make(chan [2]int64, 1)
	go func() { // the server's write syscalls over the window
		time.Sleep(time.Until(w.Start()))
		w0, ok0 := writeSyscalls(env.ServerPid())
		time.Sleep(time.Until(w.End()))
		w1, ok1 := writeSyscalls(env.ServerPid())
		if ok0 && ok1 {
			sysc <- [2]int64{w0, w1}
		}
		close(sysc)
	}()
	res := load.run(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	<-rssDone
	m0, m1 := <-m0c, scrapeMetrics(ctx, c)
	owed := res.OK * int64(n) // the senders have no stream: every receiver is owed every message
	drain(ctx, rs, owed)
	ended := endedEarly(rs)
	totals := streamTotals(rs)
	rs = nil

	reportSends(rep, res, false)
	reportDeliveries(rep, totals, owed, res.Elapsed, true)
	rep.Metric("streams_ended", "streams ended by the server", float64(ended), "")
	if m0 != nil && m1 != nil {
		var dropped float64
		for k, v := range m1 {
			if strings.HasPrefix(k, "parley_room_events_dropped_total") {
				dropped += v - m0[k]
			}
		}
		rep.Metric("room_events_dropped", "server: room events dropped (congestion)", dropped, "events")
	}
	if v, ok := <-sysc; ok && v[1] > v[0] {
		writes := float64(v[1] - v[0])
		rep.Metric("server_writes_per_sec", "server: write syscalls per second", writes/res.Elapsed.Seconds(), "writes/s")
		rep.Metric("deliveries_per_write", "deliveries per server write syscall", float64(totals.Delivered)/writes, "")
	}
	if rss, ok := env.RSSKiB(); ok {
		rep.Metric("rss_mib", "server RSS at the end", float64(rss)/1024, "MiB")
	}
	if p := peak.Load(); p > 0 {
		rep.Metric("rss_peak_mib", "server RSS, peak in the window", float64(p)/1024, "MiB")
	}
	reportServerMetrics(rep, m0, m1, time.Since(w.Start()))
	env.ReportCPU(cpu)

	if sent, ok := rep.Lookup("ops_per_sec"); ok && sent < 0.95*rate {
		if u, ok := rep.Lookup("server_cpu_pct"); ok {
			b, _ := rep.Lookup("bench_cpu_pct")
			rep.Note("server %.0f%% + load tool %.0f%% of a core: when that is near 100%% × cpus, the machine, not the number of senders, holds the rate back", u, b)
		}
	}
	rep.TargetFigure("room: at least 300,000 deliveries/s", "deliveries_per_sec", roomTargetRate, false)
	rep.TargetFigure("room: delivery p99 under 100 ms", "delivery_p99_ms", 100, true)
	if float64(n)*rate < roomTargetRate {
		rep.Note("%d streams × %g msgs/s = %.0f deliveries/s asked: below the target's 300,000 by construction", n, rate, float64(n)*rate)
	}
	return nil
}
