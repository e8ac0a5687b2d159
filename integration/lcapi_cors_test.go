package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/server"
)

// LeanCloud's browser SDKs call /1.1, /1.2 and the RTM router
// cross-origin with their own headers: preflights allow them, on Parley's
// origin policy, and the answers carry the allowed origin.
func TestLCCORS(t *testing.T) {
	const origin = "https://app.example.com"
	h := start(t, withLCApp, func(c *server.Config) { c.CORSOrigins = []string{origin} })
	lcHeaders := "x-lc-id, x-lc-key, x-lc-sign, x-lc-session, x-lc-im-session-token, x-lc-ua, x-lc-prod, content-type"
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/1.1/classes/_ConversationMemberInfo"},
		{http.MethodGet, "/1.1/rtm/notifications"},
		{http.MethodPost, "/1.1/rtm/sign"},
		{http.MethodPost, "/1.2/rtm/conversations"},
		{http.MethodPut, "/1.2/rtm/conversations/x"},
		{http.MethodGet, "/v1/route"},
	} {
		resp := preflight(t, h.base+c.path, origin, c.method, lcHeaders)
		if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight %s %s: %d, Allow-Origin %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		allowed := strings.ToLower(strings.Join(resp.Header.Values("Access-Control-Allow-Headers"), ","))
		for _, want := range strings.Split(lcHeaders, ", ") {
			if !strings.Contains(allowed, want) {
				t.Errorf("preflight %s: Allow-Headers %q lacks %s", c.path, allowed, want)
			}
		}
		if strings.Contains(allowed, "x-master-key") {
			t.Errorf("preflight %s allows X-Master-Key", c.path)
		}
		if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), c.method) {
			t.Errorf("preflight %s %s: Allow-Methods %q", c.method, c.path, resp.Header.Get("Access-Control-Allow-Methods"))
		}
	}
	// Another origin is not allowed.
	resp := preflight(t, h.base+"/1.2/rtm/conversations", "https://evil.example", "POST", lcHeaders)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Errorf("preflight from another origin allowed: %v", resp.Header)
	}

	do := func(hdr http.Header, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.base+path, nil)
		req.Header = hdr
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	// The app key works from a browser, and its answer is readable there.
	resp, body := do(lcAppKey(h), "/1.2/rtm/clients/Tom/unread-count")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("cross-origin unread-count: %d %s, Allow-Origin %q", resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// The master key does not: it belongs on servers (as X-Master-Key).
	for name, hdr := range map[string]http.Header{"key": lcMasterKey(h), "sign": lcMasterSign(h)} {
		resp, body = do(hdr, "/1.2/rtm/conversations")
		if resp.StatusCode != 401 || !strings.Contains(body, `"code":119`) {
			t.Errorf("master %s from a browser: %d %s", name, resp.StatusCode, body)
		}
	}
	// Unless the server says so.
	h2 := start(t, withLCApp, func(c *server.Config) { c.CORSOrigins = []string{origin}; c.CORSMasterKey = true })
	h = h2
	if resp, body = do(lcMasterKey(h), "/1.2/rtm/conversations"); resp.StatusCode != 200 {
		t.Errorf("master key from a browser with CORSMasterKey: %d %s", resp.StatusCode, body)
	}
}
