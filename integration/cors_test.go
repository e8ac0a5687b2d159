package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/server"
)

// A browser app on another origin may call the API: preflights allow the
// headers Parley's clients send, and answers carry the allowed origin.
// X-Master-Key is not among them (TestCORSMasterKey).
func TestCORS(t *testing.T) {
	h := start(t)
	const origin = "https://app.example.com"
	for _, c := range []struct{ method, path, requestHeaders string }{
		{http.MethodPost, "/v1/conversations", "authorization, content-type"},
		{http.MethodPost, "/v1/sessions", "content-type"},
		{http.MethodGet, "/v1/events", "authorization, last-event-id"},
		{http.MethodGet, "/v1/conversations/x/messages", "authorization"},
		{http.MethodDelete, "/v1/sessions/current", "authorization"},
	} {
		resp := preflight(t, h.base+c.path, origin, c.method, c.requestHeaders)
		if resp.StatusCode/100 != 2 {
			t.Errorf("preflight %s %s: %d", c.method, c.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" && got != origin {
			t.Errorf("preflight %s: Allow-Origin %q", c.path, got)
		}
		allowed := strings.ToLower(strings.Join(resp.Header.Values("Access-Control-Allow-Headers"), ","))
		for _, want := range []string{"authorization", "content-type", "last-event-id"} {
			if !strings.Contains(allowed, want) {
				t.Errorf("preflight %s: Allow-Headers %q lacks %s", c.path, allowed, want)
			}
		}
		if strings.Contains(allowed, "x-master-key") {
			t.Errorf("preflight %s: Allow-Headers %q allows the master key", c.path, allowed)
		}
		if methods := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(methods, c.method) {
			t.Errorf("preflight %s: Allow-Methods %q lacks %s", c.path, methods, c.method)
		}
		if resp.Header.Get("Access-Control-Allow-Credentials") == "true" {
			t.Errorf("preflight %s allows credentials; no cookies are used", c.path)
		}
	}

	// The actual request carries the header too, errors included.
	req, _ := http.NewRequest(http.MethodPost, h.base+"/v1/sessions", strings.NewReader(`{"clientId":"Tom"}`))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("cross-origin login: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// A browser app reads what a failure tells it to: when to retry, and
	// the request id to quote to its operator.
	exposed := strings.ToLower(strings.Join(resp.Header.Values("Access-Control-Expose-Headers"), ","))
	for _, want := range []string{"retry-after", "x-request-id"} {
		if !strings.Contains(exposed, want) {
			t.Errorf("cross-origin answer: Expose-Headers %q lacks %s", exposed, want)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, h.base+"/v1/conversations/x", nil)
	req.Header.Set("Origin", origin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("cross-origin 401: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// With a list of origins, only those are allowed.
func TestCORSOriginList(t *testing.T) {
	h := start(t, func(c *server.Config) { c.CORSOrigins = []string{"https://app.example.com"} })
	resp := preflight(t, h.base+"/v1/conversations", "https://app.example.com", http.MethodPost, "authorization, content-type")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("listed origin: Allow-Origin %q", got)
	}
	if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("an origin-dependent answer without Vary: Origin")
	}
	resp = preflight(t, h.base+"/v1/conversations", "https://evil.example", http.MethodPost, "authorization")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unlisted origin: Allow-Origin %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Headers"); got != "" {
		t.Errorf("unlisted origin: Allow-Headers %q", got)
	}
}

// The master key belongs on servers: browsers may send X-Master-Key
// cross-origin only when the server is configured so (CORSMasterKey).
func TestCORSMasterKey(t *testing.T) {
	const origin = "https://app.example.com"
	for _, allow := range []bool{false, true} {
		h := start(t, func(c *server.Config) { c.CORSMasterKey = allow })
		resp := preflight(t, h.base+"/v1/admin/broadcasts", origin, http.MethodPost, "x-master-key, content-type")
		allowed := strings.ToLower(strings.Join(resp.Header.Values("Access-Control-Allow-Headers"), ","))
		if got := strings.Contains(allowed, "x-master-key"); got != allow {
			t.Errorf("CORSMasterKey %v: Allow-Headers %q", allow, allowed)
		}
		if !strings.Contains(allowed, "content-type") {
			t.Errorf("CORSMasterKey %v: Allow-Headers %q lacks content-type", allow, allowed)
		}
	}
}

func preflight(t *testing.T, url, origin, method, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", headers)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
