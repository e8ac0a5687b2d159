package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

const jsonType = "application/json"

// Bad input answers 400 INVALID_REQUEST as a problem document, never 500.
func TestInvalidRequests(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	bad := http.StatusBadRequest

	t.Run("login", func(t *testing.T) {
		for _, body := range []string{
			`{"clientId":`,             // malformed JSON
			`clientId=Tom`,             // not JSON
			``,                         // no body
			`null`,                     //
			`[]`,                       //
			`"Tom"`,                    //
			`{"clientId": 5}`,          // wrong type
			`{"clientId": ["Tom"]}`,    //
			`{}`,                       // missing clientId
			`{"clientId": ""}`,         // empty
			`{"clientId": "a\u0001b"}`, // control characters
			`{"clientId": "tab\there"}`,
			`{"clientId": "line\nbreak"}`,
			`{"clientId": "del\u007f"}`,
			`{"clientId": "c1\u0085"}`,
			`{"clientId": "` + strings.Repeat("x", 65) + `"}`, // 65 characters
			`{"clientId": "` + strings.Repeat("é", 65) + `"}`,
			"{\"clientId\": \"\xff\xfe\"}", // not UTF-8
			`{"clientId": "Tom", "tag": "` + strings.Repeat("t", 65) + `"}`,
			`{"clientId": "Tom", "tag": 1}`,
			`{"clientId": "Tom", "offlineMessages": "sometimes"}`,
		} {
			expectProblem(t, "login "+body, bad, client.INVALIDREQUEST)(
				h.c.CreateSessionWithBodyWithResponse(ctx(t), jsonType, strings.NewReader(body)))
		}
		// The limits themselves are fine, counted in characters.
		for _, id := range []string{strings.Repeat("x", 64), strings.Repeat("é", 64), "x", "Tom Cat (web) 🐱"} {
			r, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: id})
			if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201 == nil || r.JSON201.ClientId != id {
				t.Errorf("login %q: %v %s", id, err, r.Body)
			}
		}
	})

	t.Run("send", func(t *testing.T) {
		for _, body := range []string{
			`{"type":-1,"text":`,
			`{"type":"x","text":"hi"}`,
			`{"type":-1,"text":5}`,
			`{"type":1.5,"text":"hi"}`,
			`{"type":1e30,"text":"hi"}`,
			`{"type":0,"text":"hi"}`,  // unknown types
			`{"type":-7,"text":"hi"}`, //
			`{"type":-1000,"data":"x"}`,
			`{"type":-1}`, // text without text
			`{"type":-1,"text":""}`,
			`{"type":-6}`, // file without file.url
			`{"type":-6,"file":{}}`,
			`{"type":-6,"file":{"url":""}}`,
			`{"type":-6,"file":{"name":"report.pdf"}}`,
			`{"type":-2,"file":{"url":"javascript:alert(1)"}}`,
			`{"type":-2,"file":{"url":"https://"}}`,
			`{"type":-2,"file":{"url":"https://example.com/a.png","size":-1}}`,
			`{"type":-5}`, // location without location, or out of range
			`{"type":-5,"location":{"latitude":91,"longitude":0}}`,
			`{"type":-5,"location":{"latitude":-90.5,"longitude":0}}`,
			`{"type":-5,"location":{"latitude":0,"longitude":180.01}}`,
			`{"type":-5,"location":{"latitude":0,"longitude":-181}}`,
			`{"type":-5,"location":{"latitude":"north","longitude":0}}`,
			`{"type":-5,"location":{"longitude":10}}`,
			`{"type":-5,"location":{}}`,
			`{"text":"hi"}`, // neither type nor data
			`{}`,
			`null`,
			`{"type":-1,"text":"hi","priority":"urgent"}`,
			`{"type":-1,"text":"hi","mentionList":[""]}`,
			`{"type":-1,"text":"hi","mentionList":"Jerry"}`,
			`{"type":-1,"text":"hi","clientMessageId":"` + strings.Repeat("k", 129) + `"}`,
			`{"type":-1,"text":"hi","attributes":[1]}`,
			`{"type":-1,"text":"hi","transient":"yes"}`,
		} {
			expectProblem(t, "send "+body, bad, client.INVALIDREQUEST)(
				h.c.SendMessageWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(body), tom.auth()))
		}
	})

	t.Run("conversations", func(t *testing.T) {
		for _, body := range []string{
			`{"members":`,
			`{"members":"Jerry"}`,
			`{"members":[""]}`,
			`{"members":["a\u0001"]}`,
			`{"members":["` + strings.Repeat("m", 65) + `"]}`,
			`{"members":["Jerry"],"kind":"bogus"}`,
			`{"members":["Jerry"],"attributes":{"a.b":1}}`,
			`{"members":["Jerry"],"attributes":{"$set":1}}`,
			`{"members":["Jerry"],"attributes":"x"}`,
			`{"members":["Jerry"],"ttl":-1}`,
			`{"members":["Jerry"],"unique":"yes"}`,
			`{"members":["Jerry"],"name":"` + strings.Repeat("n", 1025) + `"}`,
		} {
			expectProblem(t, "create "+body, bad, client.INVALIDREQUEST)(
				h.c.CreateConversationWithBodyWithResponse(ctx(t), jsonType, strings.NewReader(body), tom.auth()))
		}
		for _, body := range []string{`{}`, `{"clientIds":[]}`, `{"clientIds":"Mary"}`, `{"clientIds":[""]}`, `{"clientIds":`} {
			expectProblem(t, "add "+body, bad, client.INVALIDREQUEST)(
				h.c.AddMembersWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(body), tom.auth()))
			expectProblem(t, "remove "+body, bad, client.INVALIDREQUEST)(
				h.c.RemoveMembersWithBodyWithResponse(ctx(t), conv.Id, jsonType, strings.NewReader(body), tom.auth()))
		}
	})

	t.Run("unknown endpoints", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/v1/nothing"},
			{http.MethodPut, "/v1/sessions"},
		} {
			req, _ := http.NewRequest(c.method, h.base+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
			}
			problemOf(t, c.method+" "+c.path, resp, body, resp.StatusCode, client.INVALIDREQUEST)
		}
	})
}

// Credentials: missing, malformed, forged or wrong answer 401 UNAUTHORIZED;
// a master key where a session must act answers 403 FORBIDDEN.
func TestAuthErrors(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	unauth := http.StatusUnauthorized

	// A token of another server (another secret) is a forgery here.
	other := start(t)
	forged := other.login("Tom")

	header := func(k, v string) client.RequestEditorFn {
		return func(_ context.Context, r *http.Request) error { r.Header.Set(k, v); return nil }
	}
	for _, c := range []struct {
		name string
		ed   []client.RequestEditorFn
	}{
		{"no credentials", nil},
		{"a garbage token", []client.RequestEditorFn{withBearer("garbage")}},
		{"an empty bearer", []client.RequestEditorFn{header("Authorization", "Bearer ")}},
		{"a basic credential", []client.RequestEditorFn{header("Authorization", "Basic VG9tOnB3")}},
		{"a token of another server", []client.RequestEditorFn{forged.auth()}},
		{"a tampered token", []client.RequestEditorFn{withBearer(tom.Token + "x")}},
		{"a wrong master key", []client.RequestEditorFn{withMasterKey("not-the-key")}},
	} {
		expectProblem(t, "get with "+c.name, unauth, client.UNAUTHORIZED)(
			h.c.GetConversationWithResponse(ctx(t), conv.Id, c.ed...))
		expectProblem(t, "history with "+c.name, unauth, client.UNAUTHORIZED)(
			h.c.ListMessagesWithResponse(ctx(t), conv.Id, nil, c.ed...))
		expectProblem(t, "create with "+c.name, unauth, client.UNAUTHORIZED)(
			h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Jerry"}}, c.ed...))
		expectProblem(t, "send with "+c.name, unauth, client.UNAUTHORIZED)(
			h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("hi"), c.ed...))
		expectProblem(t, "logout with "+c.name, unauth, client.UNAUTHORIZED)(
			h.c.DeleteCurrentSessionWithResponse(ctx(t), c.ed...))
	}

	// The event stream.
	for _, c := range []struct {
		name   string
		header http.Header
		opts   []streamOpt
	}{
		{"no token", nil, nil},
		{"a bad token", http.Header{"Authorization": {"Bearer garbage"}}, nil},
		{"a bad ?token=", http.Header{"Authorization": {"Bearer garbage"}}, []streamOpt{tokenQuery()}},
		{"a forged token", http.Header{"Authorization": {"Bearer " + forged.Token}}, nil},
		{"a wrong master key", http.Header{"X-Master-Key": {"not-the-key"}}, nil},
	} {
		resp, cancel := dialEvents(t, h.base, c.header, c.opts...)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		problemOf(t, "stream with "+c.name, resp, body, unauth, client.UNAUTHORIZED)
	}

	// The master key is a credential, but not a session: it cannot open a
	// stream, send, join, quit or log out.
	forbidden := http.StatusForbidden
	resp, cancel := dialEvents(t, h.base, http.Header{"X-Master-Key": {h.srv.MasterKey}})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel()
	problemOf(t, "master key opens the stream", resp, body, forbidden, client.FORBIDDEN)
	expectProblem(t, "master key sends", forbidden, client.FORBIDDEN)(
		h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("hi"), h.master()))
	expectProblem(t, "master key joins", forbidden, client.FORBIDDEN)(
		h.c.JoinConversationWithResponse(ctx(t), conv.Id, client.Signed{}, h.master()))
	expectProblem(t, "master key quits", forbidden, client.FORBIDDEN)(
		h.c.QuitConversationWithResponse(ctx(t), conv.Id, h.master()))
	expectProblem(t, "master key logs out", forbidden, client.FORBIDDEN)(
		h.c.DeleteCurrentSessionWithResponse(ctx(t), h.master()))

	// A session token beside a master key on a session-only operation: the
	// session acts.
	both := []client.RequestEditorFn{tom.auth(), h.master()}
	if r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("as Tom"), both...); err != nil || r.StatusCode() != http.StatusCreated || r.JSON201.From != "Tom" {
		t.Errorf("send with a token and the master key: %v %s", err, r.Body)
	}
}

// The rule errors: membership, existence, kinds, limits and sizes.
func TestRuleErrors(t *testing.T) {
	h := start(t)
	tom, mary := h.login("Tom"), h.login("Mary")
	conv := tom.createConv("Jerry")
	sent := tom.sendText(conv.Id, "hi")

	t.Run("NOT_A_MEMBER", func(t *testing.T) {
		st, code := http.StatusForbidden, client.NOTAMEMBER
		expectProblem(t, "a non-member sends", st, code)(h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("let me in"), mary.auth()))
		expectProblem(t, "a non-member reads history", st, code)(h.c.ListMessagesWithResponse(ctx(t), conv.Id, nil, mary.auth()))
		expectProblem(t, "a non-member adds", st, code)(h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, mary.auth()))
		expectProblem(t, "a non-member removes", st, code)(h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Jerry"}}, mary.auth()))
		expectProblem(t, "a non-member quits", st, code)(h.c.QuitConversationWithResponse(ctx(t), conv.Id, mary.auth()))
		p := tom.history(conv.Id, client.ListMessagesParams{})
		if len(*p.Messages) != 1 {
			t.Errorf("a refused send was stored: %d messages", len(*p.Messages))
		}
	})

	t.Run("CONVERSATION_NOT_FOUND", func(t *testing.T) {
		st, code := http.StatusNotFound, client.CONVERSATIONNOTFOUND
		for _, id := range []string{"00000000000000000000", "no-such-conversation", "_tmp:nothing"} {
			expectProblem(t, "get "+id, st, code)(h.c.GetConversationWithResponse(ctx(t), id, tom.auth()))
			expectProblem(t, "get with the master key "+id, st, code)(h.c.GetConversationWithResponse(ctx(t), id, h.master()))
			expectProblem(t, "send to "+id, st, code)(h.c.SendMessageWithResponse(ctx(t), id, textMsg("hi"), tom.auth()))
			expectProblem(t, "history of "+id, st, code)(h.c.ListMessagesWithResponse(ctx(t), id, nil, tom.auth()))
			expectProblem(t, "add to "+id, st, code)(h.c.AddMembersWithResponse(ctx(t), id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()))
			expectProblem(t, "remove from "+id, st, code)(h.c.RemoveMembersWithResponse(ctx(t), id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()))
			expectProblem(t, "join "+id, st, code)(h.c.JoinConversationWithResponse(ctx(t), id, client.Signed{}, tom.auth()))
			expectProblem(t, "quit "+id, st, code)(h.c.QuitConversationWithResponse(ctx(t), id, tom.auth()))
			expectProblem(t, "count "+id, st, code)(h.c.CountMembersWithResponse(ctx(t), id, tom.auth()))
		}
	})

	t.Run("MESSAGE_NOT_FOUND", func(t *testing.T) {
		expectProblem(t, "before an unknown message", http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.ListMessagesWithResponse(ctx(t), conv.Id, &client.ListMessagesParams{Before: ptr("00000000001")}, tom.auth()))
		expectProblem(t, "after an unknown message", http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.ListMessagesWithResponse(ctx(t), conv.Id, &client.ListMessagesParams{After: ptr(sent.Id[:10] + "x")}, tom.auth()))
	})

	t.Run("OPERATION_NOT_SUPPORTED", func(t *testing.T) {
		// The contract's example: a temporary conversation's members are
		// fixed by its creator.
		kind := client.CreateConversationRequestKindTemporary
		r, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Jerry"}, Kind: &kind}, tom.auth())
		if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
			t.Fatalf("create a temporary conversation: %v %s", err, r.Body)
		}
		tmp := r.JSON201.Id
		if !strings.HasPrefix(tmp, "_tmp:") {
			t.Errorf("temporary conversation id %q", tmp)
		}
		st, code := http.StatusConflict, client.OPERATIONNOTSUPPORTED
		expectProblem(t, "add to a temporary conversation", st, code)(
			h.c.AddMembersWithResponse(ctx(t), tmp, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()))
		expectProblem(t, "remove from a temporary conversation", st, code)(
			h.c.RemoveMembersWithResponse(ctx(t), tmp, client.MembersRequest{ClientIds: &[]string{"Jerry"}}, tom.auth()))
		expectProblem(t, "join a temporary conversation", st, code)(
			h.c.JoinConversationWithResponse(ctx(t), tmp, client.Signed{}, mary.auth()))
	})

	t.Run("MEMBER_LIMIT", func(t *testing.T) {
		ids := func(n int, prefix string) *[]string {
			var s []string
			for i := range n {
				s = append(s, fmt.Sprintf("%s%03d", prefix, i))
			}
			return &s
		}
		// 500 others and the creator: 501 members.
		expectProblem(t, "create with 501 members", http.StatusConflict, client.MEMBERLIMIT)(
			h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: ids(500, "m")}, tom.auth()))

		// 500 members is the limit itself; one more is refused however it comes.
		r, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: ids(499, "m")}, tom.auth())
		if err != nil || r.StatusCode() != http.StatusCreated || r.JSON201 == nil {
			t.Fatalf("create with 500 members: %v %s", err, r.Body)
		}
		full := r.JSON201.Id
		if n := len(deref(r.JSON201.Members)); n != 500 {
			t.Errorf("%d members, want 500", n)
		}
		expectProblem(t, "add a 501st member", http.StatusConflict, client.MEMBERLIMIT)(
			h.c.AddMembersWithResponse(ctx(t), full, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()))
		expectProblem(t, "add with the master key", http.StatusConflict, client.MEMBERLIMIT)(
			h.c.AddMembersWithResponse(ctx(t), full, client.MembersRequest{ClientIds: &[]string{"Mary", "m000"}}, h.master()))
		expectProblem(t, "join as the 501st member", http.StatusConflict, client.MEMBERLIMIT)(
			h.c.JoinConversationWithResponse(ctx(t), full, client.Signed{}, mary.auth()))
		c, err := h.c.CountMembersWithResponse(ctx(t), full, tom.auth())
		if err != nil || c.JSON200 == nil || c.JSON200.Count != 500 {
			t.Errorf("member count after refused additions: %v %s, want 500", err, c.Body)
		}
		// Room made, a member fits again.
		if r, err := h.c.RemoveMembersWithResponse(ctx(t), full, client.MembersRequest{ClientIds: &[]string{"m000"}}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("remove: %v %s", err, r.Body)
		}
		if r, err := h.c.JoinConversationWithResponse(ctx(t), full, client.Signed{}, mary.auth()); err != nil || r.StatusCode() != http.StatusOK {
			t.Errorf("join after a removal: %v %s", err, r.Body)
		}
	})

	t.Run("MESSAGE_TOO_LARGE", func(t *testing.T) {
		st, code := http.StatusRequestEntityTooLarge, client.MESSAGETOOLARGE
		expectProblem(t, "6000 bytes of text", st, code)(h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg(strings.Repeat("x", 6000)), tom.auth()))
		expectProblem(t, "2000 three-byte characters", st, code)(h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg(strings.Repeat("你", 2000)), tom.auth()))
		big := textMsg("small text")
		big.Attributes = &map[string]any{"blob": strings.Repeat("b", 5200)}
		expectProblem(t, "large attributes", st, code)(h.c.SendMessageWithResponse(ctx(t), conv.Id, big, tom.auth()))
		custom := client.SendRequest{Type: ptr(int64(3)), Fields: &map[string]any{"blob": strings.Repeat("f", 5200)}}
		expectProblem(t, "large fields", st, code)(h.c.SendMessageWithResponse(ctx(t), conv.Id, custom, tom.auth()))
		// Just under the limit is fine.
		tom.sendText(conv.Id, strings.Repeat("x", 5000))
	})
}
