package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The message every sender sends: a text message whose text starts with
// the send time, so that receivers find it without decoding JSON.
//
//	{"type":-1,"text":"@1712345678901234567 hello from parley-bench"}
const (
	bodyHead   = `{"type":-1,"text":"@`
	bodyTail   = ` hello from parley-bench"}`
	sendMarker = `"text":"@`
)

var sendMarkerBytes = []byte(sendMarker)

func appendBody(b []byte, sentAt int64) []byte {
	b = append(b, bodyHead...)
	b = strconv.AppendInt(b, sentAt, 10)
	return append(b, bodyTail...)
}

// sendTime finds the send time carried in a message event's data line, or 0.
func sendTime(line []byte) int64 { return sendTimeAfter(line, sendMarkerBytes) }

// sendTimeAfter reads the send time that follows marker in b, or 0.
func sendTimeAfter(b, marker []byte) int64 {
	i := bytes.Index(b, marker)
	if i < 0 {
		return 0
	}
	var ts int64
	for _, c := range b[i+len(marker):] {
		if c < '0' || c > '9' {
			break
		}
		ts = ts*10 + int64(c-'0')
	}
	return ts
}

// senderSpec is one concurrent sender: a session token (its clientId for
// the gateway) and the conversations it sends to, in turn.
type senderSpec struct {
	Token    string
	ClientID string
	Convs    []string
}

// sendLoad is a run of concurrent keep-alive senders, flat out or at a
// fixed total rate.
type sendLoad struct {
	Base    string
	HTTP    *http.Client
	Senders []senderSpec
	Rate    float64 // total sends per second; 0: flat out
	Window  *window // the measured span; the load runs from now to its end
	// Gateway, when set, is the realtime gateway's WebSocket URL: each
	// sender logs in there and sends direct commands, awaiting each ack.
	Gateway string
}

// sender returns s's send of its k-th message stamped ts, over REST or
// the gateway, and what ends it.
func (l *sendLoad) sender(ctx context.Context, s senderSpec) (send func(k int, ts int64) error, stop func(), err error) {
	if l.Gateway != "" {
		g, err := dialGateway(ctx, l.Gateway, s.ClientID)
		if err != nil {
			return nil, nil, err
		}
		return func(k int, ts int64) error { return g.send(ctx, s.Convs[k%len(s.Convs)], ts) }, g.close, nil
	}
	body := make([]byte, 0, 128)
	urls := make([]string, len(s.Convs))
	for k, c := range s.Convs {
		urls[k] = l.Base + "/v1/conversations/" + c + "/messages"
	}
	auth := "Bearer " + s.Token
	return func(k int, ts int64) error {
		body = appendBody(body[:0], ts)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, urls[k%len(urls)], bytes.NewReader(body))
		req.Header["Content-Type"] = []string{"application/json"}
		req.Header["Authorization"] = []string{auth}
		resp, err := l.HTTP.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return errors.New("unexpected status " + resp.Status)
		}
		return nil
	}, func() {}, nil
}

// sendResult is what the senders saw inside the window.
type sendResult struct {
	OK       int64 // 201s of sends started in the window
	Errors   int64
	FirstErr string
	Latency  *Hist // send request latency of those
	Elapsed  time.Duration
	Rate     float64 // the rate asked for (0: flat out)
}

func (r *sendResult) PerSec() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// run sends from now until the window closes and reports the window.
func (l *sendLoad) run(ctx context.Context) *sendResult {
	t0 := time.Now()
	end := l.Window.End()
	rctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()
	type out struct {
		ok, errs int64
		first    string
		hist     Hist
	}
	outs := make([]out, len(l.Senders))
	var wg sync.WaitGroup
	n := len(l.Senders)
	for i := range l.Senders {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := &outs[i]
			s := l.Senders[i]
			var interval time.Duration
			next := t0
			if l.Rate > 0 {
				interval = time.Duration(float64(n) / l.Rate * float64(time.Second))
				next = t0.Add(interval * time.Duration(i) / time.Duration(n)) // staggered
			}
			send, stop, err := l.sender(rctx, s)
			if err != nil {
				o.errs++
				o.first = err.Error()
				return
			}
			defer stop()
			for k := 0; ; k++ {
				if interval > 0 {
					now := time.Now()
					if d := next.Sub(now); d > 0 {
						time.Sleep(d)
					} else if d < -time.Second {
						next = now // too far behind: do not burst to catch up
					}
					next = next.Add(interval)
				}
				start := time.Now()
				if !start.Before(end) || rctx.Err() != nil {
					return
				}
				ts := start.UnixNano()
				err := send(k, ts)
				inWindow := l.Window.in(ts)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					if inWindow {
						o.errs++
						if o.first == "" {
							o.first = err.Error()
						}
					}
					continue
				}
				if inWindow {
					o.ok++
					o.hist.Record(time.Since(start))
				}
			}
		}(i)
	}
	wg.Wait()
	res := &sendResult{Latency: &Hist{}, Elapsed: l.Window.End().Sub(l.Window.Start()), Rate: l.Rate}
	for i := range outs {
		res.OK += outs[i].ok
		res.Errors += outs[i].errs
		if res.FirstErr == "" {
			res.FirstErr = outs[i].first
		}
		res.Latency.Merge(&outs[i].hist)
	}
	return res
}

// reportSends records the senders' figures. With headline, p50_ms and
// p99_ms are the send latency; otherwise it is under send_p50_ms/send_p99_ms.
func reportSends(r *Report, res *sendResult, headline bool) {
	r.Metric("ops_per_sec", "sends (201) per second", res.PerSec(), "msgs/s")
	p50, p99 := "send_p50_ms", "send_p99_ms"
	if headline {
		p50, p99 = "p50_ms", "p99_ms"
	}
	r.Metric(p50, "send latency p50", res.Latency.Quantile(0.50), "ms")
	r.Metric(p99, "send latency p99", res.Latency.Quantile(0.99), "ms")
	r.Metric("send_max_ms", "send latency max", res.Latency.MaxMs(), "ms")
	r.Metric("sent", "sends in the window", float64(res.OK), "msgs")
	r.Metric("errors", "failed sends", float64(res.Errors), "")
	if res.FirstErr != "" {
		r.Note("first send error: %s", res.FirstErr)
	}
	if res.Rate > 0 && res.PerSec() < 0.95*res.Rate {
		r.Note("the senders reached only %.0f of the %.0f msgs/s asked: each waits for its answer, so raise -concurrency (rate × send latency)",
			res.PerSec(), res.Rate)
	}
}

// reportDeliveries records what the receivers got of the window's messages.
// With headline, p50_ms and p99_ms (JSON only) repeat the delivery latency.
func reportDeliveries(r *Report, t *streamTotal, expected int64, d time.Duration, headline bool) {
	h := t.Latency
	r.Metric("deliveries_per_sec", "deliveries per second", float64(t.Delivered)/d.Seconds(), "events/s")
	r.Metric("delivery_p50_ms", "delivery latency p50", h.Quantile(0.50), "ms")
	r.Metric("delivery_p99_ms", "delivery latency p99", h.Quantile(0.99), "ms")
	r.Metric("delivery_max_ms", "delivery latency max", h.MaxMs(), "ms")
	if headline {
		r.Metric("p50_ms", "", h.Quantile(0.50), "ms")
		r.Metric("p99_ms", "", h.Quantile(0.99), "ms")
	}
	r.Metric("deliveries", "deliveries of the window's messages", float64(t.Delivered), "events")
	r.Metric("missing_deliveries", "deliveries owed but not received", float64(expected-t.Delivered), "events")
	r.Metric("stream_events_per_sec", "stream events of any kind per second", float64(t.Events)/d.Seconds(), "events/s")
	r.Metric("stream_resets", "stream resets (slow consumer)", float64(t.Resets), "")
}

// runGets is a read load: workers keep-alive clients GET url as the holder
// of auth (a full Authorization or X-Master-Key header line is not needed:
// pass "Bearer <token>") from now until the window closes, expecting 200.
func runGets(ctx context.Context, hc *http.Client, url, auth string, workers int, w *window) *sendResult {
	end := w.End()
	type out struct {
		ok, errs int64
		first    string
		hist     Hist
	}
	outs := make([]out, workers)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func(o *out) {
			defer wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(end) {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header["Authorization"] = []string{auth}
				resp, err := hc.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = errors.New("unexpected status " + resp.Status)
					}
				}
				if !w.in(start.UnixNano()) {
					continue
				}
				if err != nil {
					o.errs++
					if o.first == "" {
						o.first = err.Error()
					}
					continue
				}
				o.ok++
				o.hist.Record(time.Since(start))
			}
		}(&outs[i])
	}
	wg.Wait()
	res := &sendResult{Latency: &Hist{}, Elapsed: end.Sub(w.Start())}
	for i := range outs {
		res.OK += outs[i].ok
		res.Errors += outs[i].errs
		if res.FirstErr == "" {
			res.FirstErr = outs[i].first
		}
		res.Latency.Merge(&outs[i].hist)
	}
	return res
}
