package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/openapi/client"
)

// jsonBody is v as a JSON request body.
func jsonBody(t *testing.T, v any) *strings.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReader(string(b))
}

// expectInvalidClientID checks a call answered 400 INVALID_REQUEST with a
// detail that says what a clientId may hold.
func expectInvalidClientID(t *testing.T, what string) func(any, error) {
	return func(r any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		hr, body := rawOf(r)
		p := problemOf(t, what, hr, body, http.StatusBadRequest, client.INVALIDREQUEST)
		if d := deref(p.Detail); !strings.Contains(d, handlers.ClientIDRule) {
			t.Errorf("%s: detail %q does not say what a clientId may hold", what, d)
		}
	}
}

// Every request that names a clientId refuses one with ':' or ',', an
// invisible (control, format, separator) character, or only white space:
// 400 INVALID_REQUEST, and nothing changes.
func TestClientIDRuleOverHTTP(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	for _, id := range []string{
		"zz:", "Tom:Tom:zz", ":", "Tom,Jerry", " ", "\u3000", "\u00a0 ",
		"evil\u202egnp.exe", "Tom\u200b", "\u200dTom", "\ufeffTom", "To\u00adm", "Tom\u2028", "Tom\u2029",
	} {
		what := strconv.QuoteToASCII(id)
		expectInvalidClientID(t, "login as "+what)(
			h.c.CreateSessionWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"clientId": id})))
		expectInvalidClientID(t, "create with "+what)(
			h.c.CreateConversationWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"members": []string{"Jerry", id}}), tom.auth()))
		expectInvalidClientID(t, "add "+what)(
			h.c.AddMembersWithBodyWithResponse(ctx(t), conv.Id, jsonType, jsonBody(t, map[string]any{"clientIds": []string{id}}), tom.auth()))
		expectInvalidClientID(t, "remove "+what)(
			h.c.RemoveMembersWithBodyWithResponse(ctx(t), conv.Id, jsonType, jsonBody(t, map[string]any{"clientIds": []string{id}}), tom.auth()))
		expectInvalidClientID(t, "subscribe to "+what)(
			h.c.SubscribePresenceWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"clientIds": []string{"Jerry", id}}), tom.auth()))
		expectInvalidClientID(t, "admin send from "+what)(
			h.c.AdminSendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, jsonBody(t, map[string]any{"from": id, "type": -1, "text": "hi"}), h.master()))
		expectInvalidClientID(t, "broadcast from "+what)(
			h.c.BroadcastWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"toAllOnline": true, "from": id, "message": map[string]any{"type": -1, "text": "hi"}}), h.master()))
		expectInvalidClientID(t, "send mentioning "+what)(
			h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, jsonBody(t, map[string]any{"type": -1, "text": "hi", "mentionList": []string{id}}), tom.auth()))
		// ?ids= splits on ',' and ignores spaces around an id: what is left
		// of one must be a clientId.
		if !strings.Contains(id, ",") && strings.Trim(id, " ") != "" {
			expectInvalidClientID(t, "online?ids="+what)(
				h.c.OnlineClientsWithResponse(ctx(t), &client.OnlineClientsParams{Ids: ptr("Jerry," + id)}, tom.auth()))
		}
	}
	// Nothing of it was kept: the members are as they were, no message was
	// stored.
	r, err := h.c.GetConversationWithResponse(ctx(t), conv.Id, tom.auth())
	if err != nil || r.JSON200 == nil || strings.Join(deref(r.JSON200.Members), ",") != "Jerry,Tom" {
		t.Errorf("conversation after refused requests: %v %s", err, r.Body)
	}
	if ms := deref(tom.history(conv.Id, client.ListMessagesParams{}).Messages); len(ms) != 0 {
		t.Errorf("%d messages stored by refused sends", len(ms))
	}
	// What stays allowed: spaces inside, punctuation but ':' and ',',
	// letters of every script, emoji.
	for _, id := range []string{"Tom Cat (web) 🐱", " Tom ", "汤\u3000姆", "שלום", "a/b?c#d%e;f@g", "🇫🇷"} {
		u := h.login(id)
		if r, err := h.c.OnlineClientsWithResponse(ctx(t), &client.OnlineClientsParams{Ids: ptr("Jerry,Tom Cat (web) 🐱")}, u.auth()); err != nil || r.StatusCode() != http.StatusOK {
			t.Errorf("online as %q: %v %s", id, err, r.Body)
		}
	}
}

// Signature mode: the backend's signature of "Tom creates a conversation
// with zz:" signs appId:Tom:Tom:zz::timestamp:nonce, which is also the login
// string of the clientId "Tom:Tom:zz". It opens no session as that client,
// and the conversation itself is refused.
func TestConversationSignatureIsNoLogin(t *testing.T) {
	h := start(t, authMode("signature"))
	key := h.srv.MasterKey
	ms := time.Now().UnixMilli()
	ts := strconv.FormatInt(ms, 10)
	sig := leanSign(key, "app1", "Tom", "Tom:zz:", ts, "n1") // members Tom and zz:, sorted, ':'-joined
	if leanSign(key, "app1", "Tom:Tom:zz", "", ts, "n1") != sig {
		t.Fatal("the signed strings differ: the test no longer shows the ambiguity")
	}
	expectInvalidClientID(t, "login as Tom:Tom:zz with a conversation's signature")(
		h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom:Tom:zz", Timestamp: &ms, Nonce: ptr("n1"), Signature: &sig}))

	r, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Tom", Timestamp: &ms, Nonce: ptr("n2"),
		Signature: ptr(leanSign(key, "app1", "Tom", "", ts, "n2"))})
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Fatalf("signed login as Tom: %v %s", err, r.Body)
	}
	tom := &user{h: h, LoginResult: *r.JSON201}
	expectInvalidClientID(t, "create with zz:")(
		h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"zz:"},
			Timestamp: &ms, Nonce: ptr("n1"), Signature: &sig}, tom.auth()))
}

// A \u escape of a lone UTF-16 surrogate is refused wherever a body is
// decoded, the send's fast path included: encoding/json would make "a\ud800"
// and "a\udc00" the same clientId "a\ufffd".
func TestLoneSurrogateEscapes(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	bad := http.StatusBadRequest
	for _, body := range []string{`{"clientId":"a\ud800"}`, `{"clientId":"a\udc00"}`, `{"clientId":"Tom","tag":"\uDBFF"}`} {
		expectProblem(t, "login "+body, bad, client.INVALIDREQUEST)(
			h.c.CreateSessionWithBodyWithResponse(ctx(t), jsonType, strings.NewReader(body)))
	}
	expectProblem(t, "create", bad, client.INVALIDREQUEST)(
		h.c.CreateConversationWithBodyWithResponse(ctx(t), jsonType, strings.NewReader(`{"members":["Mary\ud800"]}`), tom.auth()))
	expectProblem(t, "add", bad, client.INVALIDREQUEST)(
		h.c.AddMembersWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(`{"clientIds":["\udfffMary"]}`), tom.auth()))
	for _, body := range []string{
		`{"type":-1,"text":"broken \ud83d"}`,
		`{"type":-1,"text":"hi","attributes":{"k\udc00":1}}`,
		`{"type":-1,"text":"hi","mentionList":["Jerry\ud800"]}`,
	} {
		expectProblem(t, "send "+body, bad, client.INVALIDREQUEST)( // the fast path
			h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(body), tom.auth()))
		expectProblem(t, "send through the operation "+body, bad, client.INVALIDREQUEST)(
			h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(body), tom.auth(), withOrigin))
	}
	if ms := deref(tom.history(conv.Id, client.ListMessagesParams{}).Messages); len(ms) != 0 {
		t.Errorf("%d messages stored by refused sends", len(ms))
	}
	// Pairs are characters.
	r, err := h.c.CreateSessionWithBodyWithResponse(ctx(t), jsonType, strings.NewReader(`{"clientId":"cat \ud83d\udc31"}`))
	if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201.ClientId != "cat 🐱" {
		t.Errorf("login with a surrogate pair: %v %s", err, r.Body)
	}
	m, err := h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(`{"type":-1,"text":"\uD83E\uDDC0 \\ud800"}`), tom.auth())
	if err != nil || m.StatusCode() != http.StatusCreated || deref(m.JSON201.Text) != `🧀 \ud800` {
		t.Errorf("send with a pair and an escaped backslash: %v %s", err, m.Body)
	}
}

// withOrigin sends a request as a browser would, which takes the send
// through huma rather than the fast path.
func withOrigin(_ context.Context, r *http.Request) error {
	r.Header.Set("Origin", "http://localhost:3000")
	return nil
}

// Conversation names and login tags hold no control characters.
func TestNamesAndTagsOverHTTP(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	bad := http.StatusBadRequest
	for _, name := range []string{"a\x00b", "two\nlines", "\t", "c1\u0085"} {
		expectProblem(t, "create named "+strconv.Quote(name), bad, client.INVALIDREQUEST)(
			h.c.CreateConversationWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"members": []string{"Jerry"}, "name": name}), tom.auth()))
		expectProblem(t, "rename to "+strconv.Quote(name), bad, client.INVALIDREQUEST)(
			h.c.UpdateConversationWithBodyWithResponse(ctx(t), conv.Id, jsonType, jsonBody(t, map[string]any{"name": name}), tom.auth()))
		expectProblem(t, "login with tag "+strconv.Quote(name), bad, client.INVALIDREQUEST)(
			h.c.CreateSessionWithBodyWithResponse(ctx(t), jsonType, jsonBody(t, map[string]any{"clientId": "Jerry", "tag": name})))
	}
	r, err := h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Name: ptr("Tom & Jerry: the sequel")}, tom.auth())
	if err != nil || r.StatusCode() != http.StatusOK || r.JSON200.Name != "Tom & Jerry: the sequel" {
		t.Errorf("a plain rename: %v %s", err, r.Body)
	}
}

// file.url: an absolute http(s) address or /v1/files/{id}; nothing a
// browser would take for another host or scheme.
func TestFileURLsOverHTTP(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	for _, u := range []string{`/\evil.com/x.png`, `\\evil.com/x.png`, `https:\\evil.com/x.png`, "//evil.com/x.png",
		"/v1/conversations", "/v1/files/../../admin", "https://example.com/a b.png", "https://example.com/\u202egnp.exe"} {
		body := jsonBody(t, map[string]any{"type": -2, "file": map[string]any{"url": u}})
		expectProblem(t, "file.url "+u, http.StatusBadRequest, client.INVALIDREQUEST)(
			h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, body, tom.auth()))
	}
	for _, u := range []string{"https://example.com/x.png", "/v1/files/0t5bq1m6k3v8a2d4e6g0h8j1k4"} {
		tom.send(conv.Id, client.SendRequest{Type: ptr(int64(-2)), File: &client.File{Url: u}})
	}
}
