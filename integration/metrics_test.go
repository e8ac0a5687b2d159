package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/server"
)

// /metrics is served on the main address by default; with MetricsAddr, on
// that address only (the main one answers 404), and shutdown closes it.
func TestMetricsAddress(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	h := start(t)
	if h.srv.MetricsAddr != nil {
		t.Errorf("metrics address %v without MetricsAddr", h.srv.MetricsAddr)
	}
	if status, body := get(h.base + "/metrics"); status != 200 || !strings.Contains(body, "parley_streams_open") {
		t.Errorf("default: GET /metrics on the main address: %d %.200s", status, body)
	}

	h = start(t, func(c *server.Config) { c.MetricsAddr = "127.0.0.1:0" })
	if h.srv.MetricsAddr == nil {
		t.Fatal("no metrics address")
	}
	metrics := "http://" + h.srv.MetricsAddr.String()
	if status, body := get(metrics + "/metrics"); status != 200 || !strings.Contains(body, "parley_streams_open") {
		t.Errorf("GET /metrics on the metrics address: %d %.200s", status, body)
	}
	if status, _ := get(h.base + "/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the main address: %d, want 404", status)
	}
	if status, _ := get(metrics + "/v1/unread"); status != http.StatusNotFound {
		t.Errorf("the API on the metrics address: %d, want 404", status)
	}
	h.shutdown()
	if c, err := net.DialTimeout("tcp", h.srv.MetricsAddr.String(), time.Second); err == nil {
		c.Close()
		t.Error("the metrics address still accepts connections after shutdown")
	}
}

// Two servers in one process, each with a registry of its own, count apart:
// what one does moves none of the other's counters, and each /metrics
// serves its own registry.
func TestServersCountApart(t *testing.T) {
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a := start(t, func(c *server.Config) { c.Registerer, c.RateSends = regA, 2 })
	b := start(t, func(c *server.Config) { c.Registerer, c.RateSends = regB, 2 })
	samples := []string{
		"parley_store_commit_batch_size_count",
		"parley_events_queued_total",
		"parley_streams_open",
		`parley_rate_limited_total{limit="sends"}`,
	}
	before := map[string]float64{}
	for _, s := range samples {
		before[s] = a.metric(s)
	}
	if got := gathered(t, regA, "parley_rate_limited_total"); got != 0 {
		t.Errorf("registry A before any work: parley_rate_limited_total %v", got)
	}

	// B works: logins, a conversation, an open stream, sends past the limit.
	tom, jerry := b.login("Tom"), b.login("Jerry")
	st := jerry.open()
	conv := tom.createConv("Jerry")
	tom.sendText(conv.Id, "one")
	tom.sendText(conv.Id, "two")
	r, err := b.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("three"), tom.auth())
	if err != nil || r.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("B's third send in a minute: %v %d", err, deref(r).StatusCode())
	}
	st.expect("invited")

	for _, s := range samples {
		if got := a.metric(s); got != before[s] {
			t.Errorf("A's /metrics: %s moved from %v to %v while B worked", s, before[s], got)
		}
	}
	if got := gathered(t, regA, "parley_rate_limited_total"); got != 0 {
		t.Errorf("registry A: parley_rate_limited_total %v while B refused a send", got)
	}
	if got := b.metric(`parley_rate_limited_total{limit="sends"}`); got != 1 {
		t.Errorf("B's /metrics: sends refused %v, want 1", got)
	}
	if got := b.metric("parley_streams_open"); got != 1 {
		t.Errorf("B's /metrics: %v streams open, want 1", got)
	}
	if got := b.metric("parley_events_queued_total"); got == 0 {
		t.Error("B's /metrics: no events queued")
	}
	if got := gathered(t, regB, "parley_rate_limited_total"); got != 1 {
		t.Errorf("registry B: parley_rate_limited_total %v, want 1", got)
	}
}

// gathered sums the values of the counter family name in reg.
func gathered(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("%s is not in the registry", name)
	return 0
}

// A Registerer that gathers nothing itself needs the Gatherer /metrics
// serves.
func TestMetricsRegistererWithoutGatherer(t *testing.T) {
	reg := prometheus.NewRegistry()
	wrapped := prometheus.WrapRegistererWithPrefix("", reg) // registers into reg, gathers nothing
	_, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Registerer: wrapped})
	if err == nil || !strings.Contains(err.Error(), "Gatherer") {
		t.Fatalf("a Registerer without a Gatherer: %v", err)
	}
	h := start(t, func(c *server.Config) { c.Registerer, c.Gatherer = wrapped, reg })
	if got := h.metric(`parley_streams_refused_total{bound="server"}`); got != 0 || !strings.Contains(h.get(t, "/metrics"), "parley_streams_refused_total") {
		t.Errorf("/metrics does not serve the Gatherer: %v", got)
	}
}
