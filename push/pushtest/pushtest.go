// Package pushtest has local fakes of APNs, FCM and a gorush gateway, for
// tests of package push and of whatever sends through it. Each fake checks
// what the real service checks (credentials, headers, paths), records every
// request it got, and answers as a test scripts it: success by default, or a
// Reply per token (dead token, overload with Retry-After, a hang).
//
// Tests wait for requests with Wait, never with sleeps. A fake is closed by
// the test's Cleanup; a hanging request is let go then, or when its client
// gives up.
package pushtest

import (
	"context"
	"net/http"
	"sync"
)

// Reply is how a fake answers one request.
type Reply struct {
	// Status is the HTTP status; 0 is success.
	Status int
	// Reason is APNs's reason, FCM's errorCode (UNREGISTERED,
	// INVALID_ARGUMENT, QUOTA_EXCEEDED, …), or for the gateway, with Status
	// 0, the error of a failed-push log entry (as gorush in sync mode).
	Reason string
	// Field is, for FCM, a BadRequest field violation to report
	// ("message.token" says the token is the invalid argument).
	Field string
	// RetryAfter is sent as the Retry-After header when not "".
	RetryAfter string
	// Hang holds the request until the client gives up or the fake closes.
	Hang bool
}

// script holds the scripted replies: per token, each used once in order,
// then the default.
type script struct {
	mu      sync.Mutex
	byToken map[string][]Reply
	def     Reply
}

func (s *script) answer(token string, rs []Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byToken == nil {
		s.byToken = make(map[string][]Reply)
	}
	s.byToken[token] = append(s.byToken[token], rs...)
}

func (s *script) answerAll(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = r
}

func (s *script) next(token string) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.byToken[token]; len(q) > 0 {
		s.byToken[token] = q[1:]
		return q[0]
	}
	return s.def
}

// recorder keeps requests in arrival order and wakes waiters on each.
type recorder[T any] struct {
	mu      sync.Mutex
	reqs    []T
	changed chan struct{} // closed and replaced on each add
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, v)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.reqs...)
}

// wait returns the requests once there are at least n, or ctx's error.
func (r *recorder[T]) wait(ctx context.Context, n int) ([]T, error) {
	for {
		r.mu.Lock()
		if len(r.reqs) >= n {
			out := append([]T(nil), r.reqs...)
			r.mu.Unlock()
			return out, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// hang blocks until the request is given up or the fake closes.
func hang(r *http.Request, closing <-chan struct{}) {
	select {
	case <-r.Context().Done():
	case <-closing:
	}
}

func setRetryAfter(w http.ResponseWriter, rep Reply) {
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
}

// answer takes the scripted reply for token, records req with it (set
// stores the reply in req), holds a Hang until the client gives up or the
// fake closes, and sets Retry-After; ok is false when the request was held
// and is answered no further.
func answer[T any](s *script, rec *recorder[T], w http.ResponseWriter, r *http.Request, closing <-chan struct{},
	token string, req T, set func(*T, Reply)) (rep Reply, ok bool) {
	rep = s.next(token)
	set(&req, rep)
	rec.add(req)
	if rep.Hang {
		hang(r, closing)
		return rep, false
	}
	setRetryAfter(w, rep)
	return rep, true
}
