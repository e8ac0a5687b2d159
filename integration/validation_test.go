package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

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
