// Package hooks calls the app's own hook server the way LeanCloud called
// LeanEngine cloud functions, so that an app's existing cloud code
// (`AV.Cloud.define('_messageReceived', …)`, `onIMMessageReceived`…) keeps
// working unchanged: POST {URL}/1.1/functions/{hook} with the hook's
// parameters as a JSON body and the headers LeanEngine checks (X-LC-Id,
// X-LC-Key: {masterKey},master, X-LC-Hook-Key), answered with
// {"result": …}.
//
// A before-hook (Call) blocks the action it is about and may change or stop
// it; what a failed call means (go ahead, or refuse) is the caller's
// choice, after FailClosed. An after-hook (After) is queued and sent by a
// worker goroutine, retried a few times with backoff, and never delays the
// action; a full queue drops it and counts the drop.
//
// The package knows nothing of the hooks' parameters beyond their names:
// package handlers builds them, in LeanCloud's field names. A nil *Client is
// the server without hooks: every method works on it and does nothing, so
// that code without a hook URL pays one nil check.
package hooks

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/promreg"
)

// The hooks' names, as LeanEngine's SDKs define them (LEANCLOUD.md §5).
const (
	MessageReceived     = "_messageReceived"
	ReceiversOffline    = "_receiversOffline"
	MessageSent         = "_messageSent"
	MessageUpdate       = "_messageUpdate"
	ConversationStart   = "_conversationStart"
	ConversationStarted = "_conversationStarted"
	ConversationAdd     = "_conversationAdd"
	ConversationAdded   = "_conversationAdded"
	ConversationRemove  = "_conversationRemove"
	ConversationRemoved = "_conversationRemoved"
	ConversationUpdate  = "_conversationUpdate"
	ClientOnline        = "_clientOnline"
	ClientOffline       = "_clientOffline"
)

// Names lists every hook, for metrics that exist from the start.
var Names = []string{
	MessageReceived, ReceiversOffline, MessageSent, MessageUpdate,
	ConversationStart, ConversationStarted, ConversationAdd, ConversationAdded,
	ConversationRemove, ConversationRemoved, ConversationUpdate, ClientOnline, ClientOffline,
}

// Defaults of Config.
const (
	DefaultTimeout      = 3 * time.Second
	DefaultAfterRetries = 3
	DefaultAfterQueue   = 4096
	DefaultAfterWorkers = 4
	DefaultAfterBackoff = 500 * time.Millisecond
	// maxAnswer bounds the answer read from the hook server.
	maxAnswer = 1 << 20
)

// Config says where the hook server is and how to call it.
type Config struct {
	// URL is the hook server's base URL (LeanEngine's), without
	// /1.1/functions; empty: no hooks (New returns nil).
	URL string
	// AppID and MasterKey are Parley's own, which LeanEngine checks
	// (X-LC-Id, X-LC-Key: {MasterKey},master); HookKey is its
	// LEANCLOUD_APP_HOOK_KEY (X-LC-Hook-Key).
	AppID, MasterKey, HookKey string
	// Timeout bounds one call (default DefaultTimeout).
	Timeout time.Duration
	// FailClosed: a before-hook that fails refuses the action (else it goes
	// ahead). Call reports the failure either way; callers ask FailClosed.
	FailClosed bool
	// HTTP is the client calls go through (default: one of the Client's
	// own, keeping enough idle connections to the hook server).
	HTTP *http.Client
	// Registerer is where the hooks' metrics are registered (nil: nowhere).
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// AfterRetries is how many times a failed after-hook is tried again
	// (default DefaultAfterRetries; negative: never), AfterBackoff the wait
	// before the first retry (default DefaultAfterBackoff), doubled for
	// each next one, with jitter.
	AfterRetries int
	AfterBackoff time.Duration
	// AfterQueue bounds the after-hooks waiting to be sent (default
	// DefaultAfterQueue), AfterWorkers how many are sent at once (default
	// DefaultAfterWorkers). After-hooks are not ordered among themselves,
	// as on LeanCloud.
	AfterQueue, AfterWorkers int
}

// Client calls the hook server. A nil *Client calls nothing.
type Client struct {
	cfg      Config
	base     string // URL + "/1.1/functions/"
	http     *http.Client
	ownHTTP  bool
	log      *slog.Logger
	master   string // X-LC-Key
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dropped  *prometheus.CounterVec

	mu     sync.RWMutex // guards closed against After's send on queue
	closed bool
	queue  chan afterJob
	stop   context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type afterJob struct {
	hook   string
	params any
}

// Outcomes of a call, the label of parley_hook_calls_total.
const (
	OutcomeOK        = "ok"
	OutcomeTimeout   = "timeout"
	OutcomeError     = "error"     // no answer, or not 200
	OutcomeMalformed = "malformed" // 200, but not {"result": …}
)

// Error is a failed call: the hook server did not answer in time, answered
// with a status other than 200, or with something that is not
// {"result": …}.
type Error struct {
	Hook    string
	Outcome string // OutcomeTimeout, OutcomeError or OutcomeMalformed
	Status  int    // the HTTP status, when one came
	Err     error
}

func (e *Error) Error() string {
	s := "hook " + e.Hook + ": " + e.Outcome
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns a client of the hook server at cfg.URL, with its after-hook
// workers started (Close ends them), or nil when cfg.URL is empty.
func New(cfg Config) *Client {
	if cfg.URL == "" {
		return nil
	}
	cfg.Timeout = cmp.Or(max(cfg.Timeout, 0), DefaultTimeout)
	if cfg.AfterRetries == 0 {
		cfg.AfterRetries = DefaultAfterRetries
	}
	cfg.AfterRetries = max(cfg.AfterRetries, 0)
	cfg.AfterBackoff = cmp.Or(max(cfg.AfterBackoff, 0), DefaultAfterBackoff)
	cfg.AfterQueue = cmp.Or(max(cfg.AfterQueue, 0), DefaultAfterQueue)
	cfg.AfterWorkers = cmp.Or(max(cfg.AfterWorkers, 0), DefaultAfterWorkers)
	c := &Client{
		cfg:    cfg,
		base:   strings.TrimRight(cfg.URL, "/") + "/1.1/functions/",
		http:   cfg.HTTP,
		log:    cmp.Or(cfg.Log, slog.Default()),
		master: cfg.MasterKey + ",master",
		queue:  make(chan afterJob, cfg.AfterQueue),
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // every send calls the same host
		c.http, c.ownHTTP = &http.Client{Transport: t}, true
	}
	c.calls, c.duration, c.dropped = newMetrics(cfg.Registerer)
	c.stop, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(cfg.AfterWorkers)
	for range cfg.AfterWorkers {
		go c.worker()
	}
	return c
}

// RegisterMetrics registers the hooks' metrics with reg, every series at 0,
// for a server without hooks: the documented metrics exist all the same.
func RegisterMetrics(reg prometheus.Registerer) { newMetrics(reg) }

func newMetrics(reg prometheus.Registerer) (calls *prometheus.CounterVec, duration *prometheus.HistogramVec, dropped *prometheus.CounterVec) {
	calls = promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_hook_calls_total",
		Help: "Calls of the hook server, by hook and outcome (ok, timeout, error, malformed); each try of an after-hook counts.",
	}, []string{"hook", "outcome"}))
	duration = promreg.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "parley_hook_duration_seconds",
		Help:    "How long the hook server took to answer a call, by hook.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"hook"}))
	dropped = promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_hook_after_dropped_total",
		Help: "After-hooks given up, by hook and reason (queue_full, retries: every try failed, closed: the server stopped first).",
	}, []string{"hook", "reason"}))
	for _, h := range Names {
		for _, o := range []string{OutcomeOK, OutcomeTimeout, OutcomeError, OutcomeMalformed} {
			calls.WithLabelValues(h, o)
		}
		duration.WithLabelValues(h)
		for _, r := range []string{"queue_full", "retries", "closed"} {
			dropped.WithLabelValues(h, r)
		}
	}
	return calls, duration, dropped
}

// FailClosed reports whether a failed before-hook refuses its action.
func (c *Client) FailClosed() bool { return c != nil && c.cfg.FailClosed }

// Call calls a before-hook and returns its result: the "result" value of
// the answer (nil when the answer has none or it is null, which is "go on
// as it is"). An error (an *Error, or the encoding of params failing) means
// the call failed: the caller goes ahead or refuses after FailClosed. On a
// nil Client it returns (nil, nil).
func (c *Client) Call(ctx context.Context, hook string, params any) (json.RawMessage, error) {
	if c == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.call(ctx, hook, params)
}

// After queues an after-hook and returns at once. params is encoded to JSON
// by the worker that sends it: it must not change after the call. A full
// queue, or a client that is closing, drops it (counted in
// parley_hook_after_dropped_total).
func (c *Client) After(hook string, params any) {
	if c == nil {
		return
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		c.dropped.WithLabelValues(hook, "closed").Inc()
		return
	}
	select {
	case c.queue <- afterJob{hook: hook, params: params}:
	default:
		c.dropped.WithLabelValues(hook, "queue_full").Inc()
		c.log.Warn("hook: after-hook queue full, dropped", "hook", hook)
	}
}

// Close stops taking after-hooks and sends those queued, retries included,
// until ctx ends; then the rest are dropped, the calls in flight cancelled,
// and Close returns ctx's error once every worker has ended. Calling it
// again does nothing.
func (c *Client) Close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.queue)
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		c.cancel()
		<-done
		err = ctx.Err()
	}
	c.cancel()
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return err
}

func (c *Client) worker() {
	defer c.wg.Done()
	for j := range c.queue {
		c.send(j)
	}
}

// send delivers an after-hook, trying again after a failure that may pass.
func (c *Client) send(j afterJob) {
	wait := c.cfg.AfterBackoff
	for try := 0; ; try++ {
		if c.stop.Err() != nil {
			c.dropped.WithLabelValues(j.hook, "closed").Inc()
			return
		}
		ctx, cancel := context.WithTimeout(c.stop, c.cfg.Timeout)
		_, err := c.call(ctx, j.hook, j.params)
		cancel()
		if err == nil {
			return
		}
		var he *Error
		if !errors.As(err, &he) || !retryable(he) || try >= c.cfg.AfterRetries {
			c.dropped.WithLabelValues(j.hook, "retries").Inc()
			c.log.Warn("hook: after-hook given up", "hook", j.hook, "tries", try+1, "err", err)
			return
		}
		// Full jitter over the upper half: retries of many hooks spread out.
		d := wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.stop.Done():
			t.Stop()
		}
		wait *= 2
	}
}

// retryable reports whether trying again may succeed: not after an answer
// that says the request itself is wrong (4xx, a bad hook key, say), except
// 408 and 429.
func retryable(e *Error) bool {
	if e.Status >= 400 && e.Status < 500 {
		return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
	}
	return e.Outcome != OutcomeMalformed
}

// call makes one request and reads its answer; ctx bounds it.
func (c *Client) call(ctx context.Context, hook string, params any) (json.RawMessage, error) {
	body, err := c.body(hook, params)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := c.do(ctx, hook, body)
	c.duration.WithLabelValues(hook).Observe(time.Since(start).Seconds())
	outcome := OutcomeOK
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			outcome = he.Outcome
		}
	}
	c.calls.WithLabelValues(hook, outcome).Inc()
	return res, err
}

func (c *Client) do(ctx context.Context, hook string, body []byte) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+hook, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Hook: hook, Outcome: OutcomeError, Err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("X-LC-Id", c.cfg.AppID)
	h.Set("X-LC-Key", c.master)
	h.Set("X-LC-Hook-Key", c.cfg.HookKey)
	h.Set("User-Agent", "parley-hooks")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Hook: hook, Outcome: outcomeOf(ctx, err), Err: err}
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return nil, &Error{Hook: hook, Outcome: outcomeOf(ctx, err), Status: res.StatusCode, Err: err}
	}
	if res.StatusCode != http.StatusOK {
		return nil, &Error{Hook: hook, Outcome: OutcomeError, Status: res.StatusCode, Err: errors.New(snippet(answer))}
	}
	if len(answer) > maxAnswer {
		return nil, &Error{Hook: hook, Outcome: OutcomeMalformed, Status: res.StatusCode, Err: fmt.Errorf("answer over %d bytes", maxAnswer)}
	}
	var a struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, &Error{Hook: hook, Outcome: OutcomeMalformed, Status: res.StatusCode, Err: fmt.Errorf("not {\"result\": …}: %s", snippet(answer))}
	}
	if string(a.Result) == "null" {
		a.Result = nil
	}
	return a.Result, nil
}

// outcomeOf names a transport failure: a timeout when the call's deadline
// passed (or the network said so).
func outcomeOf(ctx context.Context, err error) string {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return OutcomeTimeout
	}
	return OutcomeError
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// body encodes params and adds `__sign`, the signature LeanEngine SDKs
// before 2.0 checked instead of X-LC-Hook-Key (ts,
// hex(HMAC-SHA1(masterKey, hook:ts))), so that an old deployed engine
// works too; newer ones ignore it.
func (c *Client) body(hook string, params any) ([]byte, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("hook %s: encode params: %w", hook, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return b, nil // not an object: nowhere to put __sign
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	m := hmac.New(sha1.New, []byte(c.cfg.MasterKey))
	m.Write([]byte(hook + ":" + ts))
	out := make([]byte, 0, len(b)+80)
	out = append(out, `{"__sign":"`...)
	out = append(out, ts...)
	out = append(out, ',')
	out = hex.AppendEncode(out, m.Sum(nil))
	out = append(out, '"')
	if rest := bytes.TrimSpace(b[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}
