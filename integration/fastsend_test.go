package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// TestFastSendAnswersAsTheOperation checks that a send served by the
// operation's fast path (api/fastsend.go: the common case) answers exactly
// as huma's general request machinery does, on a second server that serves
// every send through it: status (the one expected, on both), Content-Type,
// WWW-Authenticate, X-Content-Type-Options, Cache-Control and the body (ids
// and times aside).
func TestFastSendAnswersAsTheOperation(t *testing.T) {
	fastServer := start(t)
	plainServer := startOn(t, fastServer.dbPath+"-plain", func(c *server.Config) { c.PlainSend = true })
	big := strings.Repeat("x", 6000)
	type side struct {
		h                 *harness
		tom, jerry, spike *user
		conv              string
	}
	var sides [2]side
	for i, h := range []*harness{fastServer, plainServer} {
		sides[i] = side{h: h, tom: h.login("Tom"), jerry: h.login("Jerry"), spike: h.login("Spike")}
		sides[i].conv = sides[i].tom.createConv("Jerry").Id
	}

	post := func(h *harness, token, convID, body string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, h.base+"/v1/conversations/"+convID+"/messages", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
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
		return resp, doc
	}
	for _, tc := range []struct {
		what, who, conv, body string
		status                int
	}{
		{"a text", "tom", "", `{"type":-1,"text":"hi <b>&</b> 你好 \u2028"}`, 201},
		{"a re-send of a clientMessageId", "tom", "", `{"type":-1,"text":"once","clientMessageId":"k1"}`, 200},
		{"a file", "tom", "", `{"type":-2,"file":{"url":"https://example.com/a.png","size":3},"attributes":{"b":1,"a":[true]},"mentionList":["Jerry"]}`, 201},
		{"a will", "jerry", "", `{"type":-1,"text":"bye","will":true}`, 202},
		{"a transient message", "jerry", "", `{"type":-1,"text":"typing","transient":true}`, 201},
		{"no text", "tom", "", `{"type":-1}`, 400},
		{"an unknown type", "tom", "", `{"type":-9,"text":"?"}`, 400},
		{"too large", "tom", "", `{"type":-1,"text":"` + big + big + `"}`, 413},
		{"a body over the request limit", "tom", "", `{"type":-1,"text":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		{"a bad priority", "tom", "", `{"type":-1,"text":"x","priority":"urgent"}`, 400},
		{"not a member", "spike", "", `{"type":-1,"text":"hi"}`, 403},
		{"no such conversation", "tom", "nosuchconversation", `{"type":-1,"text":"hi"}`, 404},
		{"a conversation id over 128 characters", "tom", strings.Repeat("c", 129), `{"type":-1,"text":"hi"}`, 400},
		{"a bad token", "nobody", "", `{"type":-1,"text":"hi"}`, 401},
		{"a body that is not JSON", "tom", "", `{"type":-1,`, 400},
		{"a wrongly typed field", "tom", "", `{"type":"text"}`, 400},
		{"no body", "tom", "", ``, 400},
		{"a lone surrogate escape", "tom", "", `{"type":-1,"text":"a\ud800"}`, 400},
		{"a surrogate pair", "tom", "", `{"type":-1,"text":"\ud83d\udc31 \\ud800"}`, 201},
	} {
		var resps [2]*http.Response
		var docs [2]map[string]any
		for i, sd := range sides {
			token := map[string]string{"tom": sd.tom.Token, "jerry": sd.jerry.Token, "spike": sd.spike.Token, "nobody": "nonsense"}[tc.who]
			conv := sd.conv
			if tc.conv != "" {
				conv = tc.conv
			}
			if tc.status == 200 { // the first send of the key
				post(sd.h, token, conv, tc.body)
			}
			resps[i], docs[i] = post(sd.h, token, conv, tc.body)
		}
		fast, slow := resps[0], resps[1]
		fastDoc, slowDoc := docs[0], docs[1]
		if fast.StatusCode != tc.status || slow.StatusCode != tc.status {
			t.Errorf("%s: status %d, through the operation %d; want %d", tc.what, fast.StatusCode, slow.StatusCode, tc.status)
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
		for _, k := range []string{"id", "timestamp", "conversationId"} { // a message of its own server
			delete(fastDoc, k)
			delete(slowDoc, k)
		}
		if !sameJSON(t, fastDoc, slowDoc) {
			t.Errorf("%s: body\n %s\nthrough the operation\n %s", tc.what, canonicalJSON(t, fastDoc), canonicalJSON(t, slowDoc))
		}
	}
}

// A send whose body is over the limit answers 413, and the rest of its body
// is never read as the next request on the same keep-alive connection: the
// server closes the connection, or reads the body away (security issue,
// item 3). Whatever it does, the next request on that connection gets a
// proper answer or a closed connection, never attacker bytes parsed as a
// request.
func TestOversizedSendDoesNotDesyncTheConnection(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	for _, tc := range []struct {
		what   string
		header string
		body   string
	}{
		{"Content-Length", "", `{"type":-1,"text":"` + strings.Repeat("x", 1<<20+300<<10) + `"}`},
		{"Content-Length, an Origin", "Origin: http://localhost:3000\r\n", `{"type":-1,"text":"` + strings.Repeat("x", 1<<20+300<<10) + `"}`},
		// The body's tail is itself a request: it must never be served.
		{"a smuggled request", "", `{"type":-1,"text":"` + strings.Repeat("x", 1<<20) + `"}` +
			"GET /v1/unread HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tom.Token + "\r\n\r\n"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.srv.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(conn, "POST /v1/conversations/%s/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
				conv.Id, tom.Token, tc.header, len(tc.body))
			go io.WriteString(conn, tc.body) // the server may stop reading
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversized send: %d, want 413", resp.StatusCode)
			}
			// The next, valid request on the same connection.
			fmt.Fprintf(conn, "GET /v1/unread HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", tom.Token)
			next, err := http.ReadResponse(br, nil)
			if err != nil {
				return // the server closed the connection: fine
			}
			raw, _ := io.ReadAll(next.Body)
			next.Body.Close()
			if next.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"conversations"`) {
				t.Fatalf("the next request on the connection answered %d %s", next.StatusCode, raw)
			}
			// Nothing more: no answer to a smuggled request.
			conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if extra, err := http.ReadResponse(br, nil); err == nil {
				t.Fatalf("a third answer on the connection, to a request nobody sent as one: %d", extra.StatusCode)
			}
		})
	}
}
