package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// expectRetryAfter checks a refusal's status, code and Retry-After.
func expectRetryAfter(t *testing.T, what string, resp *http.Response, body []byte, status int, code client.ProblemCode) {
	t.Helper()
	problemOf(t, what, resp, body, status, code)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds", what, resp.Header.Get("Retry-After"))
	}
}

// The rate limits (off by default): sends and history reads per client
// across its sessions, logins per IP; over a limit, 429 RATE_LIMITED with
// Retry-After, counted in /metrics (security issue, item 5).
func TestRateLimits(t *testing.T) {
	h := start(t, func(c *server.Config) { c.RateSends, c.RateHistory, c.RateLogins = 3, 2, 6 })
	tom1, tom2, jerry := h.login("Tom", "Web"), h.login("Tom", "Mobile"), h.login("Jerry")
	conv := tom1.createConv("Jerry")
	tom1.sendText(conv.Id, "one")
	tom2.sendText(conv.Id, "two")
	tom1.sendText(conv.Id, "three")
	r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("four"), tom2.auth())
	if err != nil {
		t.Fatal(err)
	}
	expectRetryAfter(t, "Tom's fourth send in a minute, from his other session", r.HTTPResponse, r.Body, http.StatusTooManyRequests, client.RATELIMITED)
	jerry.sendText(conv.Id, "Jerry has his own allowance")

	jerry.history(conv.Id, client.ListMessagesParams{})
	jerry.history(conv.Id, client.ListMessagesParams{})
	hr, err := h.c.ListMessagesWithResponse(ctx(t), conv.Id, &client.ListMessagesParams{}, jerry.auth())
	if err != nil {
		t.Fatal(err)
	}
	expectRetryAfter(t, "Jerry's third history read", hr.HTTPResponse, hr.Body, http.StatusTooManyRequests, client.RATELIMITED)
	if r, err := h.c.ListMessagesWithResponse(ctx(t), conv.Id, &client.ListMessagesParams{}, h.master()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("the master key is not limited: %v %d", err, deref(r).StatusCode())
	}

	// Three logins above, three more from this address, then refused.
	h.login("Mary")
	h.login("Spike")
	h.login("Tyke")
	lr, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Butch"})
	if err != nil {
		t.Fatal(err)
	}
	expectRetryAfter(t, "the seventh login from one address", lr.HTTPResponse, lr.Body, http.StatusTooManyRequests, client.RATELIMITED)

	metrics := h.get(t, "/metrics")
	for _, want := range []string{`parley_rate_limited_total{limit="sends"} 1`, `parley_rate_limited_total{limit="history"} 1`, `parley_rate_limited_total{limit="logins"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func (h *harness) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(h.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// Open streams are bounded in total and per client, so that running out of
// file descriptors is refused early with a clear answer while the API stays
// reachable; a client's live sessions are bounded too, the oldest making
// room (security issue, item 5).
func TestStreamAndSessionBounds(t *testing.T) {
	h := start(t, func(c *server.Config) { c.MaxStreams, c.MaxClientStreams, c.MaxClientSessions = 3, 2, 3 })
	tom1, tom2, tom3 := h.login("Tom", "a"), h.login("Tom", "b"), h.login("Tom", "c")
	jerry, mary := h.login("Jerry"), h.login("Mary")
	tom1.open()
	tom2.open()
	refused := func(u *user, status int, code client.ProblemCode, what string) {
		t.Helper()
		resp, cancel := dialEvents(t, h.base, http.Header{"Authorization": {"Bearer " + u.Token}})
		defer cancel()
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		expectRetryAfter(t, what, resp, body, status, code)
	}
	refused(tom3, http.StatusTooManyRequests, client.RATELIMITED, "Tom's third stream")
	js := jerry.open()
	refused(mary, http.StatusServiceUnavailable, client.SERVICEUNAVAILABLE, "a fourth stream on a server bounded to three")
	// The API stays reachable.
	h.get(t, "/readyz")
	jerry.sendText(tom1.createConv("Jerry").Id, "still here")
	// A stream that ends makes room; a session's own stream may always be
	// replaced.
	js.close()
	waitFor(t, "Jerry's stream to be counted out", func() bool {
		resp, cancel := dialEvents(t, h.base, http.Header{"Authorization": {"Bearer " + mary.Token}})
		defer cancel()
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// A fourth login of Tom ends his oldest session.
	h.login("Tom", "d")
	expectProblem(t, "Tom's oldest session after a fourth login", http.StatusUnauthorized, client.SESSIONCONFLICT)(
		h.c.GetUnreadWithResponse(ctx(t), tom1.auth()))
	if r, err := h.c.GetUnreadWithResponse(ctx(t), tom2.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("Tom's second session: %v %d", err, deref(r).StatusCode())
	}
}
