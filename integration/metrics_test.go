package integration

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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
