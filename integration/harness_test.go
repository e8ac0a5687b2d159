// Package integration tests Parley end to end: each test starts the real
// server (server.Start) on a loopback port with a temporary database and
// talks to it over HTTP, through the Go client generated from
// openapi/openapi-3.0.yaml and a small Server-Sent-Events reader.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// waitTimeout bounds every wait for something the server owes us (an event,
// the end of a stream). Tests never sleep: they wait for a positive signal
// and fail when it does not come in time.
const waitTimeout = 5 * time.Second

// heartbeat is the stream heartbeat interval of the test servers.
const heartbeat = 100 * time.Millisecond

// harness is one running server and a generated client pointed at it.
type harness struct {
	t      *testing.T
	dbPath string
	srv    *server.Server
	base   string
	c      *client.ClientWithResponses
	logs   *logSink

	mu      sync.Mutex
	stopped bool
}

// start runs a server on a fresh temporary database.
func start(t *testing.T, opts ...func(*server.Config)) *harness {
	t.Helper()
	return startOn(t, filepath.Join(t.TempDir(), "parley.db"), opts...)
}

// startOn runs a server on the database file at dbPath; it is shut down when
// the test ends.
func startOn(t *testing.T, dbPath string, opts ...func(*server.Config)) *harness {
	t.Helper()
	logs := &logSink{}
	cfg := server.Config{
		Addr:      "127.0.0.1:0",
		DB:        dbPath,
		Heartbeat: heartbeat,
		Log:       slog.New(logs),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	h := &harness{t: t, dbPath: dbPath, srv: srv, base: "http://" + srv.Addr.String(), logs: logs}
	h.c, err = client.NewClientWithResponses(h.base, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.shutdown()
		// A request that made the server log an error is a server bug (an
		// internal failure, a panic), whatever status the test saw.
		if errs := logs.errors(); len(errs) > 0 {
			t.Errorf("the server logged errors:\n%s", strings.Join(errs, "\n"))
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return h
}

// shutdown stops the server gracefully, once.
func (h *harness) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.t.Errorf("Shutdown: %v", err)
	}
}

// restart shuts the server down and starts a new one on the same database.
func (h *harness) restart(opts ...func(*server.Config)) *harness {
	h.t.Helper()
	h.shutdown()
	return startOn(h.t, h.dbPath, opts...)
}

// master authenticates a request with the server's master key.
func (h *harness) master() client.RequestEditorFn { return withMasterKey(h.srv.MasterKey) }

func withMasterKey(key string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("X-Master-Key", key)
		return nil
	}
}

func withBearer(token string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// user is one logged-in session of a client.
type user struct {
	h *harness
	client.LoginResult
}

// login logs clientID in (with an optional tag) and returns its session.
func (h *harness) login(clientID string, tag ...string) *user {
	h.t.Helper()
	req := client.LoginRequest{ClientId: clientID}
	if len(tag) > 0 {
		req.Tag = &tag[0]
	}
	r, err := h.c.CreateSessionWithResponse(ctx(h.t), req)
	if err != nil {
		h.t.Fatalf("login %s: %v", clientID, err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		h.t.Fatalf("login %s: %d %s", clientID, r.StatusCode(), r.Body)
	}
	if r.JSON201.ClientId != clientID || r.JSON201.Token == "" || r.JSON201.SessionId == "" {
		h.t.Fatalf("login %s: unexpected result %+v", clientID, r.JSON201)
	}
	return &user{h: h, LoginResult: *r.JSON201}
}

// auth authenticates a request as this session.
func (u *user) auth() client.RequestEditorFn { return withBearer(u.Token) }

// on is the same session talking to another server (after a restart).
func (u *user) on(h *harness) *user { return &user{h: h, LoginResult: u.LoginResult} }

// createConv creates a normal conversation with the given other members.
func (u *user) createConv(members ...string) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.CreateConversationWithResponse(ctx(u.h.t), client.CreateConversationRequest{Members: &members}, u.auth())
	if err != nil {
		u.h.t.Fatalf("%s creates a conversation: %v", u.ClientId, err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		u.h.t.Fatalf("%s creates a conversation: %d %s", u.ClientId, r.StatusCode(), r.Body)
	}
	return *r.JSON201
}

// send sends a message and expects 201.
func (u *user) send(convID string, req client.SendRequest) client.Message {
	u.h.t.Helper()
	r, err := u.h.c.SendMessageWithResponse(ctx(u.h.t), convID, req, u.auth())
	if err != nil {
		u.h.t.Fatalf("%s sends: %v", u.ClientId, err)
	}
	if r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
		u.h.t.Fatalf("%s sends: %d %s", u.ClientId, r.StatusCode(), r.Body)
	}
	return *r.JSON201
}

// sendText sends a text message and expects 201.
func (u *user) sendText(convID, text string) client.Message {
	u.h.t.Helper()
	return u.send(convID, textMsg(text))
}

// history reads one page of history and expects 200.
func (u *user) history(convID string, p client.ListMessagesParams) client.HistoryPage {
	u.h.t.Helper()
	r, err := u.h.c.ListMessagesWithResponse(ctx(u.h.t), convID, &p, u.auth())
	if err != nil {
		u.h.t.Fatalf("history: %v", err)
	}
	if r.StatusCode() != http.StatusOK || r.JSON200 == nil || r.JSON200.Messages == nil {
		u.h.t.Fatalf("history: %d %s", r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

func textMsg(text string) client.SendRequest {
	return client.SendRequest{Type: ptr(int64(-1)), Text: &text}
}

func ptr[T any](v T) *T { return &v }

// ctx is a request context bounded by the test's life.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// problemOf asserts that a response is the contract's problem document with
// this status and code, and returns it.
func problemOf(t *testing.T, what string, resp *http.Response, body []byte, status int, code client.ProblemCode) client.Problem {
	t.Helper()
	var p client.Problem
	if resp == nil {
		t.Errorf("%s: no response", what)
		return p
	}
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %s)", what, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: body is not a problem document: %v: %s", what, err, body)
		return p
	}
	if p.Code != code {
		t.Errorf("%s: code %q, want %q (detail %q)", what, p.Code, code, deref(p.Detail))
	}
	if p.Status != int64(status) {
		t.Errorf("%s: problem status %d, want %d", what, p.Status, status)
	}
	if p.Title == "" {
		t.Errorf("%s: problem without a title", what)
	}
	if status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: 401 without WWW-Authenticate", what)
	}
	return p
}

// expectProblem returns a check that a generated client call answered the
// given problem: expectProblem(t, what, 404, code)(h.c.GetConversationWithResponse(...)).
func expectProblem(t *testing.T, what string, status int, code client.ProblemCode) func(any, error) {
	return func(r any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		hr, body := rawOf(r)
		problemOf(t, what, hr, body, status, code)
	}
}

// rawOf digs the HTTP response and body out of a generated response.
func rawOf(r any) (*http.Response, []byte) {
	switch r := r.(type) {
	case *client.CreateSessionResponse:
		return r.HTTPResponse, r.Body
	case *client.DeleteCurrentSessionResponse:
		return r.HTTPResponse, r.Body
	case *client.CreateConversationResponse:
		return r.HTTPResponse, r.Body
	case *client.GetConversationResponse:
		return r.HTTPResponse, r.Body
	case *client.AddMembersResponse:
		return r.HTTPResponse, r.Body
	case *client.RemoveMembersResponse:
		return r.HTTPResponse, r.Body
	case *client.JoinConversationResponse:
		return r.HTTPResponse, r.Body
	case *client.QuitConversationResponse:
		return r.HTTPResponse, r.Body
	case *client.CountMembersResponse:
		return r.HTTPResponse, r.Body
	case *client.SendMessageResponse:
		return r.HTTPResponse, r.Body
	case *client.ListMessagesResponse:
		return r.HTTPResponse, r.Body
	case *client.OpenEventStreamResponse:
		return r.HTTPResponse, r.Body
	}
	// Any other generated response: every one has these two fields.
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		hf, bf := v.Elem().FieldByName("HTTPResponse"), v.Elem().FieldByName("Body")
		if hf.IsValid() && bf.IsValid() {
			hr, ok1 := hf.Interface().(*http.Response)
			body, ok2 := bf.Interface().([]byte)
			if ok1 && ok2 {
				return hr, body
			}
		}
	}
	panic(fmt.Sprintf("rawOf: unknown response type %T", r))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sameJSON reports whether two values encode to the same JSON document.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return canonicalJSON(t, a) == canonicalJSON(t, b)
}

func canonicalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x) // maps encode with sorted keys
	return string(b)
}

// logSink collects the server's log and remembers error records.
type logSink struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	errs []string
	h    slog.Handler
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }

func (l *logSink) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h == nil {
		l.h = slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	start := l.buf.Len()
	err := l.h.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		l.errs = append(l.errs, strings.TrimSpace(l.buf.String()[start:]))
	}
	return err
}

func (l *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{l: l, attrs: attrs}
}

func (l *logSink) WithGroup(string) slog.Handler { return l }

func (l *logSink) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type attrHandler struct {
	l     *logSink
	attrs []slog.Attr
}

func (a *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (a *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(a.attrs...)
	return a.l.Handle(ctx, r)
}
func (a *attrHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{l: a.l, attrs: append(append([]slog.Attr(nil), a.attrs...), attrs...)}
}
func (a *attrHandler) WithGroup(string) slog.Handler { return a }
