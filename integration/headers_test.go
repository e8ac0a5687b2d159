package integration

import (
	"net/http"
	"strings"
	"testing"
)

// Every answer of the API — successes, errors, the event stream — tells
// browsers not to sniff its type and caches not to keep it: it carries
// tokens, messages and keys. A downloaded file keeps its own (deliberate)
// caching, and the web demo its own.
func TestAPIAnswersAreNeitherSniffedNorStored(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	file := h.uploadOK(t, "a.txt", "text/plain", []byte("hello"), tom.auth())

	do := func(method, path, body string, header ...string) *http.Response {
		t.Helper()
		return rawDo(t, method, h.base+path, body, header...)
	}
	bearer := "Bearer " + tom.Token
	send := "/v1/conversations/" + conv.Id + "/messages"
	for _, tc := range []struct {
		what   string
		resp   *http.Response
		status int
	}{
		{"a login", do("POST", "/v1/sessions", `{"clientId":"Jerry"}`), 201},
		{"a read", do("GET", "/v1/conversations/"+conv.Id, "", "Authorization", bearer), 200},
		{"a send (fast path)", do("POST", send, `{"type":-1,"text":"hi"}`, "Authorization", bearer), 201},
		{"a send refused (fast path)", do("POST", "/v1/conversations/nosuch/messages", `{"type":-1,"text":"hi"}`, "Authorization", bearer), 404},
		{"a send through the operation", do("POST", send, `{"type":-1,"text":"hi"}`, "Authorization", bearer, "Origin", "https://app.example"), 201},
		{"no credentials", do("GET", "/v1/conversations/"+conv.Id, ""), 401},
		{"a bad body", do("POST", "/v1/sessions", `{"clientId":`), 400},
		{"an unknown endpoint", do("GET", "/v1/nosuch", ""), 404},
		{"a wrong method", do("PUT", "/v1/sessions", ""), 405},
		{"a missing file", do("GET", "/v1/files/nosuchfile", ""), 404},
		{"a CORS preflight", do("OPTIONS", "/v1/sessions", "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST"), 204},
	} {
		if tc.resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.what, tc.resp.StatusCode, tc.status)
		}
		if got := tc.resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", tc.what, got)
		}
		if got := tc.resp.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.what, got)
		}
	}

	// The event stream.
	resp, cancel := dialEvents(t, h.base, http.Header{"Authorization": {bearer}})
	resp.Body.Close()
	cancel()
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("event stream: %d, X-Content-Type-Options %q, Cache-Control %q", resp.StatusCode,
			resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Cache-Control"))
	}

	// A file's bytes never change behind its id: cacheable, never sniffed.
	resp = do("GET", file.Url, "")
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("file download: %d, X-Content-Type-Options %q, Cache-Control %q", resp.StatusCode,
			resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Cache-Control"))
	}
	// The web demo keeps its own caching.
	resp = do("GET", "/", "")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") == "no-store" {
		t.Errorf("web demo: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
}
