package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// hookServer is a LeanEngine stand-in: it records each call and answers
// with what answer says.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []recorded
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts calls from 1
	n      atomic.Int32
}

type recorded struct {
	path   string
	header http.Header
	body   map[string]any
}

func newHookServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hookServer {
	t.Helper()
	hs := &hookServer{answer: answer}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		hs.mu.Lock()
		hs.calls = append(hs.calls, recorded{path: r.URL.Path, header: r.Header.Clone(), body: body})
		hs.mu.Unlock()
		hs.answer(int(hs.n.Add(1)), w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func (hs *hookServer) recorded() []recorded {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]recorded(nil), hs.calls...)
}

func answerJSON(s string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, s)
	}
}

func testClient(t *testing.T, url string, mod func(*Config)) (*Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{URL: url, AppID: "app-id", MasterKey: "master-key-0123456789", HookKey: "hook-key",
		Timeout: 200 * time.Millisecond, AfterBackoff: 5 * time.Millisecond, Registerer: reg}
	if mod != nil {
		mod(&cfg)
	}
	c := New(cfg)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, reg
}

func TestNilClient(t *testing.T) {
	c := New(Config{})
	if c != nil {
		t.Fatal("New without URL is not nil")
	}
	res, err := c.Call(context.Background(), MessageReceived, map[string]any{"a": 1})
	if res != nil || err != nil {
		t.Fatalf("nil Call = %s, %v", res, err)
	}
	c.After(MessageSent, nil)
	if c.FailClosed() {
		t.Error("nil client fails closed")
	}
	if err := c.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestCallSendsWhatLeanEngineExpects(t *testing.T) {
	hs := newHookServer(t, answerJSON(`{"result":{"drop":true,"code":4401,"detail":"no"}}`))
	c, reg := testClient(t, hs.URL+"/", nil)
	params := map[string]any{"fromPeer": "Tom", "convId": "c1", "toPeers": []string{"Jerry"}, "content": `{"_lctype":-1,"_lctext":"hi"}`}
	res, err := c.Call(context.Background(), MessageReceived, params)
	if err != nil {
		t.Fatal(err)
	}
	if string(res) != `{"drop":true,"code":4401,"detail":"no"}` {
		t.Errorf("result %s", res)
	}
	calls := hs.recorded()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	got := calls[0]
	if got.path != "/1.1/functions/_messageReceived" {
		t.Errorf("path %q", got.path)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "X-LC-Id": "app-id",
		"X-LC-Key": "master-key-0123456789,master", "X-LC-Hook-Key": "hook-key",
	} {
		if v := got.header.Get(k); v != want {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
	if got.body["fromPeer"] != "Tom" || got.body["convId"] != "c1" || got.body["content"] != params["content"] {
		t.Errorf("body %v", got.body)
	}
	// The legacy signature: ts,hex(HMAC-SHA1(masterKey, hook:ts)).
	sign, _ := got.body["__sign"].(string)
	ts, mac, ok := strings.Cut(sign, ",")
	m := hmac.New(sha1.New, []byte("master-key-0123456789"))
	m.Write([]byte("_messageReceived:" + ts))
	if !ok || mac != hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("__sign %q", sign)
	}
	if n := value(c.calls.WithLabelValues(MessageReceived, OutcomeOK)); n != 1 {
		t.Errorf("ok calls %v", n)
	}
	if n, _ := series(reg, "parley_hook_duration_seconds"); n == 0 {
		t.Error("no latency histogram")
	}
}

func TestCallResultAbsentOrNull(t *testing.T) {
	for _, answer := range []string{`{}`, `{"result":null}`} {
		hs := newHookServer(t, answerJSON(answer))
		c, _ := testClient(t, hs.URL, nil)
		res, err := c.Call(context.Background(), ConversationStart, struct{}{})
		if res != nil || err != nil {
			t.Errorf("%s: %s, %v", answer, res, err)
		}
	}
}

func TestCallFailures(t *testing.T) {
	cases := []struct {
		name    string
		answer  func(int, http.ResponseWriter, *http.Request)
		outcome string
		status  int
	}{
		{"timeout", func(_ int, w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}, OutcomeTimeout, 0},
		{"500", func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, `{"code":1,"error":"boom"}`)
		}, OutcomeError, 500},
		{"401 hook key", func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(401)
			io.WriteString(w, `{"code":401,"error":"Hook key check failed"}`)
		}, OutcomeError, 401},
		{"malformed", answerJSON(`<html>surprise</html>`), OutcomeMalformed, 200},
	}
	for _, tc := range cases {
		for _, closed := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				hs := newHookServer(t, tc.answer)
				c, _ := testClient(t, hs.URL, func(cfg *Config) { cfg.FailClosed = closed })
				start := time.Now()
				res, err := c.Call(context.Background(), MessageReceived, map[string]any{"convId": "c"})
				var he *Error
				if !errors.As(err, &he) || he.Outcome != tc.outcome || he.Status != tc.status || he.Hook != MessageReceived {
					t.Fatalf("err %#v (%v), want outcome %s status %d", err, err, tc.outcome, tc.status)
				}
				if res != nil {
					t.Errorf("result %s with an error", res)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("took %v, timeout is 200ms", d)
				}
				if c.FailClosed() != closed {
					t.Errorf("FailClosed %v", c.FailClosed())
				}
				if n := value(c.calls.WithLabelValues(MessageReceived, tc.outcome)); n != 1 {
					t.Errorf("%s calls %v", tc.outcome, n)
				}
			})
		}
	}
}

func TestCallHonoursCallerContext(t *testing.T) {
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c, _ := testClient(t, hs.URL, func(cfg *Config) { cfg.Timeout = 5 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, MessageReceived, struct{}{}); err == nil {
		t.Fatal("no error")
	}
}

func TestAfterRetriesThenSucceeds(t *testing.T) {
	done := make(chan struct{})
	hs := newHookServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, `{"result":{}}`)
		close(done)
	})
	c, _ := testClient(t, hs.URL, nil)
	c.After(ClientOffline, map[string]any{"peerId": "Tom", "closeCode": 1})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the after-hook never succeeded")
	}
	calls := hs.recorded()
	if len(calls) != 3 {
		t.Fatalf("%d tries, want 3", len(calls))
	}
	for _, call := range calls {
		if call.path != "/1.1/functions/_clientOffline" || call.body["peerId"] != "Tom" || call.body["closeCode"] != 1.0 {
			t.Errorf("try %v", call)
		}
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := value(c.calls.WithLabelValues(ClientOffline, OutcomeError)); n != 2 {
		t.Errorf("failed tries counted %v", n)
	}
}

func TestAfterGivesUp(t *testing.T) {
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	c, _ := testClient(t, hs.URL, func(cfg *Config) { cfg.AfterRetries = 2 })
	c.After(MessageSent, map[string]any{"msgId": "m"})
	if err := c.Close(context.Background()); err != nil { // waits for the tries
		t.Fatal(err)
	}
	if n := len(hs.recorded()); n != 3 {
		t.Errorf("%d tries, want 1 + 2 retries", n)
	}
	if n := value(c.dropped.WithLabelValues(MessageSent, "retries")); n != 1 {
		t.Errorf("dropped %v", n)
	}
}

func TestAfterDoesNotRetryARefusal(t *testing.T) {
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) })
	c, _ := testClient(t, hs.URL, nil)
	c.After(MessageSent, struct{}{})
	c.Close(context.Background())
	if n := len(hs.recorded()); n != 1 {
		t.Errorf("%d tries of a 401", n)
	}
}

func TestAfterQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c, _ := testClient(t, hs.URL, func(cfg *Config) {
		cfg.AfterQueue, cfg.AfterWorkers, cfg.Timeout = 2, 1, 5*time.Second
	})
	start := time.Now()
	for range 10 {
		c.After(MessageSent, struct{}{}) // never blocks
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("After blocked for %v", d)
	}
	// One in the worker's hands (or still queued), two queued: at least 7 dropped.
	if n := value(c.dropped.WithLabelValues(MessageSent, "queue_full")); n < 7 {
		t.Errorf("dropped %v, want ≥ 7", n)
	}
	close(release)
	c.Close(context.Background())
}

func TestCloseEndsWorkersWithoutLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	for range 3 {
		c := New(Config{URL: hs.URL, Timeout: 10 * time.Second, AfterWorkers: 4})
		for range 20 {
			c.After(ClientOnline, map[string]any{"peerId": "x"})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Close(ctx) // the hook server never answers: Close gives up
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v", err)
		}
		c.After(ClientOnline, struct{}{}) // after Close: dropped, no panic
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
	hs.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) { // the test server's own may linger a moment
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Config{URL: "http://127.0.0.1:1", Registerer: reg})
	b := New(Config{URL: "http://127.0.0.1:1", Registerer: reg}) // a second server in the process
	defer a.Close(context.Background())
	defer b.Close(context.Background())
	if n, err := series(reg, "parley_hook_calls_total"); err != nil || n != len(Names)*4 {
		t.Errorf("series %d, %v", n, err)
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// series counts the series of a metric family in reg.
func series(reg *prometheus.Registry, name string) (int, error) {
	mfs, err := reg.Gather()
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == name {
			n += len(mf.GetMetric())
		}
	}
	return n, err
}
