package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeMetrics reads the server's /metrics (Prometheus text) and returns
// its samples by name with labels, e.g. "parley_streams_open" or
// `parley_room_events_dropped_total{priority="low"}`.
func scrapeMetrics(ctx context.Context, c *Client) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/metrics", nil)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// reportServerMetrics records what the server's own counters say about the
// window between two scrapes: commits and their batch size, events queued.
func reportServerMetrics(r *Report, before, after map[string]float64, d time.Duration) {
	if before == nil || after == nil {
		return
	}
	delta := func(k string) float64 { return after[k] - before[k] }
	if n := delta("parley_store_commit_batch_size_count"); n > 0 {
		r.Metric("commits_per_sec", "server: transactions committed per second", n/d.Seconds(), "commits/s")
		r.Metric("writes_per_commit", "server: writes per commit (mean batch)", delta("parley_store_commit_batch_size_sum")/n, "writes")
	}
	if n := delta("parley_events_queued_total"); n > 0 {
		r.Metric("server_events_per_sec", "server: events queued to sessions per second", n/d.Seconds(), "events/s")
	}
}
