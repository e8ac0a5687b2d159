package pushtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/parley-im/parley/push"
)

// Gateway is a fake push gateway in gorush's format: POST /api/push with
// {"notifications":[...]}, answered {"counts","logs","success":"ok"}.
type Gateway struct {
	URL string // the full endpoint, for GatewayConfig

	srv     *httptest.Server
	script  script
	rec     recorder[GatewayRequest]
	closing chan struct{}
	once    sync.Once
}

// GatewayRequest is one request the gateway fake got.
type GatewayRequest struct {
	Header http.Header
	Body   map[string]any // the whole JSON body
	Token  string         // the first notification's first token (scripts key on it)
	Reply  Reply
}

// NewGateway starts a gateway fake, closed at the end of the test.
func NewGateway(t testing.TB) *Gateway {
	t.Helper()
	f := &Gateway{closing: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/push", f.serve)
	f.srv = httptest.NewServer(mux)
	f.URL = f.srv.URL + "/api/push"
	t.Cleanup(f.Close)
	return f
}

// Config is a push.GatewayConfig that sends to this fake.
func (f *Gateway) Config() push.GatewayConfig {
	return push.GatewayConfig{URL: f.URL, HTTP: f.srv.Client()}
}

// Answer scripts the next replies to token, one request each, in order.
func (f *Gateway) Answer(token string, replies ...Reply) { f.script.answer(token, replies) }

// AnswerAll sets the default reply (the zero Reply is success).
func (f *Gateway) AnswerAll(r Reply) { f.script.answerAll(r) }

// Requests returns the requests so far, in order.
func (f *Gateway) Requests() []GatewayRequest { return f.rec.all() }

// Wait returns the requests once there are at least n.
func (f *Gateway) Wait(ctx context.Context, n int) ([]GatewayRequest, error) {
	return f.rec.wait(ctx, n)
}

// Close lets hanging requests go and stops the server.
func (f *Gateway) Close() {
	f.once.Do(func() {
		close(f.closing)
		f.srv.Close()
	})
}

func (f *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	req := GatewayRequest{Header: r.Header.Clone()}
	var body struct {
		Notifications []struct {
			Tokens   []string `json:"tokens"`
			Platform int      `json:"platform"`
		} `json:"notifications"`
	}
	raw := json.NewDecoder(r.Body)
	if err := raw.Decode(&req.Body); err != nil {
		req.Reply = Reply{Status: http.StatusBadRequest}
		f.rec.add(req)
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "bad json"})
		return
	}
	b, _ := json.Marshal(req.Body)
	_ = json.Unmarshal(b, &body)
	if len(body.Notifications) == 0 || len(body.Notifications[0].Tokens) == 0 {
		req.Reply = Reply{Status: http.StatusBadRequest}
		f.rec.add(req)
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "notifications or tokens empty"})
		return
	}
	n := body.Notifications[0]
	req.Token = n.Tokens[0]
	rep, ok := answer(&f.script, &f.rec, w, r, f.closing, req.Token, req, func(q *GatewayRequest, rep Reply) { q.Reply = rep })
	if !ok {
		return
	}
	if rep.Status != 0 && rep.Status != http.StatusOK {
		writeJSON(w, rep.Status, map[string]any{"code": rep.Status, "message": http.StatusText(rep.Status)})
		return
	}
	logs := []any{}
	if rep.Reason != "" {
		platform := map[int]string{1: "ios", 2: "android"}[n.Platform]
		logs = append(logs, map[string]any{
			"type": "failed-push", "platform": platform, "token": req.Token,
			"message": "", "error": rep.Reason,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": len(body.Notifications), "logs": logs, "success": "ok"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
