package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// stubHooks is a hook server in Go: each hook answers what its function
// says (nil: {"result":{}}), and every call is recorded.
type stubHooks struct {
	*httptest.Server
	mu     sync.Mutex
	answer map[string]func(w http.ResponseWriter, params map[string]any)
	calls  []hookCall
}

func newStubHooks(t *testing.T) *stubHooks {
	st := &stubHooks{answer: map[string]func(http.ResponseWriter, map[string]any){}}
	st.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook := strings.TrimPrefix(r.URL.Path, "/1.1/functions/")
		var params map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &params)
		st.mu.Lock()
		st.calls = append(st.calls, hookCall{Hook: hook, Params: params})
		f := st.answer[hook]
		st.mu.Unlock()
		if f == nil {
			io.WriteString(w, `{"result":{}}`)
			return
		}
		f(w, params)
	}))
	t.Cleanup(st.Close)
	return st
}

func (st *stubHooks) set(hook string, f func(w http.ResponseWriter, params map[string]any)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.answer[hook] = f
}

func (st *stubHooks) of(hook string) []hookCall {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []hookCall
	for _, c := range st.calls {
		if c.Hook == hook {
			out = append(out, c)
		}
	}
	return out
}

func result(s string) func(http.ResponseWriter, map[string]any) {
	return func(w http.ResponseWriter, _ map[string]any) { io.WriteString(w, s) }
}

// A before-hook that fails — times out, answers 500, or something that is
// not {"result": …} — lets the action go ahead when hooks fail open, and
// refuses it with 503 HOOK_FAILED when they fail closed.
func TestHooksFailModes(t *testing.T) {
	failures := map[string]func(http.ResponseWriter, map[string]any){
		"timeout":   func(http.ResponseWriter, map[string]any) { time.Sleep(400 * time.Millisecond) },
		"500":       func(w http.ResponseWriter, _ map[string]any) { w.WriteHeader(500) },
		"malformed": result(`{"result": tru`),
	}
	for _, closed := range []bool{false, true} {
		st := newStubHooks(t)
		h := start(t, func(c *server.Config) {
			c.HooksURL, c.HooksTimeout, c.HooksFailClosed = st.URL, 100*time.Millisecond, closed
		})
		tom := h.login("Tom")
		conv := tom.createConv("Jerry")
		for name, f := range failures {
			st.set("_messageReceived", f)
			st.set("_conversationStart", f)
			r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("hi"), tom.auth())
			if err != nil {
				t.Fatal(err)
			}
			c, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Mary"}}, tom.auth())
			if err != nil {
				t.Fatal(err)
			}
			if !closed {
				if r.StatusCode() != http.StatusCreated || c.StatusCode() != http.StatusCreated {
					t.Errorf("fail open, %s: send %d %s, create %d %s", name, r.StatusCode(), r.Body, c.StatusCode(), c.Body)
				}
				continue
			}
			resp, body := rawOf(r)
			problemOf(t, "fail closed, "+name+": send", resp, body, http.StatusServiceUnavailable, client.HOOKFAILED)
			resp, body = rawOf(c)
			problemOf(t, "fail closed, "+name+": create", resp, body, http.StatusServiceUnavailable, client.HOOKFAILED)
		}
		st.set("_messageReceived", nil)
		tom.sendText(conv.Id, "the hook answers again")
	}
}

// Edits and recalls pass _messageUpdate; renames, attribute changes and
// mutes pass _conversationUpdate, whose attr may replace the change;
// adding members passes _conversationAdd, and _conversationAdded follows.
func TestHooksUpdates(t *testing.T) {
	st := newStubHooks(t)
	h := start(t, func(c *server.Config) { c.HooksURL = st.URL })
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	m := tom.sendText(conv.Id, "first")

	st.set("_messageUpdate", func(w http.ResponseWriter, p map[string]any) {
		if strings.Contains(p["content"].(string), "nope") {
			io.WriteString(w, `{"result":{"drop":true,"code":77,"detail":"no edits like that"}}`)
			return
		}
		io.WriteString(w, `{"result":{}}`)
	})
	edit := func(text string) (*http.Response, []byte) {
		r, err := h.c.EditMessageWithResponse(ctx(t), conv.Id, m.Id, client.EditRequest{Type: ptr(int64(-1)), Text: &text}, tom.auth())
		if err != nil {
			t.Fatal(err)
		}
		return rawOf(r)
	}
	resp, body := edit("nope")
	if p := problemOf(t, "a dropped edit", resp, body, http.StatusForbidden, client.MESSAGEREJECTED); deref(p.AppCode) != 77 {
		t.Errorf("appCode %v", p.AppCode)
	}
	if resp, body := edit("second"); resp.StatusCode != http.StatusOK {
		t.Errorf("edit: %d %s", resp.StatusCode, body)
	}
	if r, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, m.Id, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("recall: %v %v", r, err)
	}
	calls := st.of("_messageUpdate")
	if len(calls) != 3 || calls[2].Params["recall"] != true || calls[1].Params["recall"] != false ||
		calls[2].Params["msgId"] != m.Id || !sameJSON(t, calls[2].Params["toPeers"], []string{"Jerry"}) {
		t.Errorf("_messageUpdate calls %+v", calls)
	}

	st.set("_conversationUpdate", func(w http.ResponseWriter, p map[string]any) {
		if _, ok := p["mute"]; ok {
			io.WriteString(w, `{"result":{"reject":true,"code":5,"detail":"stay tuned"}}`)
			return
		}
		io.WriteString(w, `{"result":{"attr":{"name":"renamed by the app","attr":{"topic":"replaced"}}}}`)
	})
	attrs := map[string]any{"topic": "mine"}
	u, err := h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Attributes: &attrs}, tom.auth())
	if err != nil || u.JSON200 == nil {
		t.Fatalf("update: %v %v", u, err)
	}
	if u.JSON200.Name != "renamed by the app" || !sameJSON(t, u.JSON200.Attributes, map[string]any{"topic": "replaced"}) {
		t.Errorf("updated %s", u.Body)
	}
	if got := st.of("_conversationUpdate")[0].Params["attr"]; !sameJSON(t, got, map[string]any{"attr": map[string]any{"topic": "mine"}}) {
		t.Errorf("_conversationUpdate attr %v", got)
	}
	mu, err := h.c.MuteConversationWithResponse(ctx(t), conv.Id, tom.auth())
	if err != nil {
		t.Fatal(err)
	}
	resp, body = rawOf(mu)
	problemOf(t, "a rejected mute", resp, body, http.StatusForbidden, client.OPERATIONREJECTED)

	if r, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("add: %v %v", r, err)
	}
	if add := st.of("_conversationAdd"); len(add) != 1 || !sameJSON(t, add[0].Params["members"], []string{"Mary"}) || add[0].Params["initBy"] != "Tom" {
		t.Errorf("_conversationAdd %+v", add)
	}
	deadline := time.Now().Add(waitTimeout)
	for len(st.of("_conversationAdded")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if added := st.of("_conversationAdded"); len(added) != 1 || added[0].Params["convId"] != conv.Id {
		t.Errorf("_conversationAdded %+v", added)
	}
}
