package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// window is the measured span, shared by senders and receivers: only the
// messages sent inside it count, so warm-up and drain do not skew rates.
type window struct {
	start, end atomic.Int64 // unix nanoseconds; end 0: not set, nothing counts
}

func newWindow(start time.Time, d time.Duration) *window {
	w := &window{}
	w.set(start, d)
	return w
}

func (w *window) set(start time.Time, d time.Duration) {
	w.start.Store(start.UnixNano())
	w.end.Store(start.Add(d).UnixNano())
}

func (w *window) in(ts int64) bool {
	return ts >= w.start.Load() && ts < w.end.Load()
}

func (w *window) Start() time.Time { return time.Unix(0, w.start.Load()) }
func (w *window) End() time.Time   { return time.Unix(0, w.end.Load()) }

// Receiver reads one session's event stream on its own goroutine. The parser
// is line-based over a reused buffer: no allocation per event, the JSON is
// never decoded; a message's send time is found after a marker in its text.
type Receiver struct {
	w      *window
	body   io.Closer // what the reader reads: closing it ends the reader
	cancel context.CancelFunc
	hello  chan struct{}
	done   chan struct{}

	delivered atomic.Int64 // message events sent inside the window
	// Read after done: owned by the reading goroutine until then.
	hist     Hist // delivery latency of those
	messages int64
	events   int64 // frames of any kind that arrived inside the window
	resets   int64
	err      error
}

// OpenStream opens GET /v1/events as the holder of token and returns once
// the stream's hello arrived.
func (c *Client) OpenStream(ctx context.Context, token string, w *window) (*Receiver, error) {
	sctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, c.Base+"/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	c.authorize(req, token)
	resp, err := c.Streams.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET /v1/events: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	r := &Receiver{w: w, body: resp.Body, cancel: cancel, hello: make(chan struct{}), done: make(chan struct{})}
	go r.read(resp.Body)
	select {
	case <-r.hello:
		return r, nil
	case <-r.done:
		return nil, fmt.Errorf("event stream ended before hello: %v", r.err)
	case <-time.After(30 * time.Second):
		r.Close()
		return nil, errors.New("no hello on the event stream within 30s")
	}
}

// OpenStreams opens a stream for every token, a few at a time.
func (c *Client) OpenStreams(ctx context.Context, tokens []string, w *window) ([]*Receiver, error) {
	start := time.Now()
	rs := make([]*Receiver, len(tokens))
	err := parallel(ctx, len(tokens), 32, func(i int) error {
		var err error
		rs[i], err = c.OpenStream(ctx, tokens[i], w)
		return err
	})
	if err != nil {
		closeAll(rs)
		return nil, err
	}
	progress("opened %d event streams in %s", len(rs), time.Since(start).Round(time.Millisecond))
	return rs, nil
}

// timedReader notes when bytes last arrived. The buffered parser reads again
// only once it has used up every complete line, so each line is stamped
// with the time of the read that completed it.
type timedReader struct {
	r  io.Reader
	at int64
}

func (t *timedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.at = time.Now().UnixNano()
	}
	return n, err
}

var (
	prefixEvent = []byte("event: ")
	prefixData  = []byte("data: ")
	nameMessage = []byte("message")
	nameHello   = []byte("hello")
	nameReset   = []byte("reset")
)

func (r *Receiver) read(body io.Reader) {
	defer close(r.done)
	tr := &timedReader{r: body}
	br := bufio.NewReaderSize(tr, 16<<10)
	isMessage, gotHello := false, false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: not one of ours; skip it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				continue
			}
		}
		if err != nil {
			r.err = err
			return
		}
		switch {
		case len(line) <= 1 || line[0] == '\r':
			isMessage = false // end of a frame
		case line[0] == ':':
			// heartbeat comment
		case bytes.HasPrefix(line, prefixEvent):
			if r.w != nil && r.w.in(tr.at) {
				r.events++
			}
			name := bytes.TrimRight(line[len(prefixEvent):], "\r\n")
			isMessage = bytes.Equal(name, nameMessage)
			switch {
			case !gotHello && bytes.Equal(name, nameHello):
				gotHello = true
				close(r.hello)
			case bytes.Equal(name, nameReset):
				r.resets++
			}
		case isMessage && bytes.HasPrefix(line, prefixData):
			r.messages++
			if ts := sendTime(line); ts > 0 && r.w != nil && r.w.in(ts) {
				r.hist.Record(time.Duration(tr.at - ts))
				r.delivered.Add(1)
			}
		}
	}
}

// Close ends the stream and waits for its reader.
func (r *Receiver) Close() {
	r.cancel()
	r.body.Close()
	<-r.done
}

func closeAll(rs []*Receiver) {
	for _, r := range rs {
		if r != nil {
			r.cancel()
		}
	}
	for _, r := range rs {
		if r != nil {
			r.Close()
		}
	}
}

// deliveredSum is how many in-window messages the receivers got so far.
func deliveredSum(rs []*Receiver) int64 {
	var n int64
	for _, r := range rs {
		n += r.delivered.Load()
	}
	return n
}

// drain waits until the receivers got want in-window messages, or got
// nothing new for a second, or five seconds passed.
func drain(ctx context.Context, rs []*Receiver, want int64) {
	deadline := time.Now().Add(5 * time.Second)
	last, lastChange := int64(-1), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := deliveredSum(rs)
		if n >= want {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Second {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamTotals closes the receivers and merges what they saw.
func streamTotals(rs []*Receiver) *streamTotal {
	closeAll(rs)
	t := &streamTotal{Latency: &Hist{}}
	for _, r := range rs {
		t.Latency.Merge(&r.hist)
		t.Delivered += r.delivered.Load()
		t.Messages += r.messages
		t.Events += r.events
		t.Resets += r.resets
	}
	return t
}

// streamTotal is what a set of receivers saw.
type streamTotal struct {
	Latency   *Hist // delivery latency of the window's messages
	Delivered int64 // message events of messages sent in the window
	Messages  int64 // message events of any time
	Events    int64 // events of any kind that arrived in the window
	Resets    int64 // reset events (slow consumer)
}

// endedEarly counts streams that stopped before the tool closed them.
func endedEarly(rs []*Receiver) int {
	n := 0
	for _, r := range rs {
		select {
		case <-r.done:
			n++
		default:
		}
	}
	return n
}
