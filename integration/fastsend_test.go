package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestFastSendAnswersAsTheOperation checks that a send served without
// huma's request machinery (api/fastsend.go: the common case) answers
// exactly as the operation does. A browser's Origin header sends the same
// request through huma; everything but the CORS headers must agree: status,
// Content-Type, WWW-Authenticate, X-Content-Type-Options, Cache-Control and
// the body (ids and times aside).
func TestFastSendAnswersAsTheOperation(t *testing.T) {
	h := start(t)
	tom, jerry, spike := h.login("Tom"), h.login("Jerry"), h.login("Spike")
	conv := tom.createConv("Jerry")
	big := strings.Repeat("x", 6000)

	post := func(token, convID, body string, viaHuma bool) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, h.base+"/v1/conversations/"+convID+"/messages", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if viaHuma {
			req.Header.Set("Origin", "http://localhost:3000")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: not JSON: %s", body, raw)
		}
		if viaHuma && resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Fatal("the request with an Origin did not go through the router")
		}
		return resp, doc
	}
	for _, tc := range []struct {
		what, token, conv, body string
		status                  int
	}{
		{"a text", tom.Token, conv.Id, `{"type":-1,"text":"hi <b>&</b> 你好 \u2028"}`, 201},
		{"a re-send of a clientMessageId", tom.Token, conv.Id, `{"type":-1,"text":"once","clientMessageId":"k1"}`, 200},
		{"a file", tom.Token, conv.Id, `{"type":-2,"file":{"url":"https://example.com/a.png","size":3},"attributes":{"b":1,"a":[true]},"mentionList":["Jerry"]}`, 201},
		{"a will", jerry.Token, conv.Id, `{"type":-1,"text":"bye","will":true}`, 202},
		{"a transient message", jerry.Token, conv.Id, `{"type":-1,"text":"typing","transient":true}`, 201},
		{"no text", tom.Token, conv.Id, `{"type":-1}`, 400},
		{"an unknown type", tom.Token, conv.Id, `{"type":-9,"text":"?"}`, 400},
		{"too large", tom.Token, conv.Id, `{"type":-1,"text":"` + big + big + `"}`, 413},
		{"a bad priority", tom.Token, conv.Id, `{"type":-1,"text":"x","priority":"urgent"}`, 400},
		{"not a member", spike.Token, conv.Id, `{"type":-1,"text":"hi"}`, 403},
		{"no such conversation", tom.Token, "nosuchconversation", `{"type":-1,"text":"hi"}`, 404},
		{"a bad token", "nonsense", conv.Id, `{"type":-1,"text":"hi"}`, 401},
		{"a body that is not JSON", tom.Token, conv.Id, `{"type":-1,`, 400},
		{"a wrongly typed field", tom.Token, conv.Id, `{"type":"text"}`, 422},
	} {
		if tc.status == 200 { // the first send of the key
			post(tc.token, tc.conv, tc.body, false)
		}
		fast, fastDoc := post(tc.token, tc.conv, tc.body, false)
		slow, slowDoc := post(tc.token, tc.conv, tc.body, true)
		if fast.StatusCode != slow.StatusCode {
			t.Errorf("%s: status %d, through the operation %d", tc.what, fast.StatusCode, slow.StatusCode)
		}
		if fast.StatusCode != tc.status && slow.StatusCode == tc.status {
			t.Errorf("%s: status %d, want %d", tc.what, fast.StatusCode, tc.status)
		}
		for _, name := range []string{"Content-Type", "WWW-Authenticate", "X-Content-Type-Options", "Cache-Control"} {
			if a, b := fast.Header.Get(name), slow.Header.Get(name); a != b {
				t.Errorf("%s: %s %q, through the operation %q", tc.what, name, a, b)
			}
		}
		if fast.Header.Get("X-Content-Type-Options") != "nosniff" || fast.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: X-Content-Type-Options %q, Cache-Control %q; want nosniff, no-store", tc.what,
				fast.Header.Get("X-Content-Type-Options"), fast.Header.Get("Cache-Control"))
		}
		if tc.status < 300 && tc.status != 200 {
			for _, k := range []string{"id", "timestamp"} { // a new message each time
				delete(fastDoc, k)
				delete(slowDoc, k)
			}
		}
		if !sameJSON(t, fastDoc, slowDoc) {
			t.Errorf("%s: body\n %s\nthrough the operation\n %s", tc.what, canonicalJSON(t, fastDoc), canonicalJSON(t, slowDoc))
		}
	}
}
