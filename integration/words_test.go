package integration

import (
	"net/http"
	"slices"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// Sensitive words (master key): in a group chat every later message's text
// has them replaced by ***, case-insensitively, as sent, delivered, stored
// and edited; one-to-one chats are left alone; the list survives a restart.
func TestSensitiveWords(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	group := tom.createConv("Jerry", "Mary")
	pair := tom.createConv("Jerry")
	js, _ := jerry.lcOpen()

	put := func(words []string, auth client.RequestEditorFn) (*client.PutSensitiveWordsResponse, error) {
		return h.c.PutSensitiveWordsWithResponse(ctx(t), client.SensitiveWords{Words: &words}, auth)
	}
	if r, err := put([]string{"fool"}, tom.auth()); err != nil || (r.StatusCode() != http.StatusForbidden && r.StatusCode() != http.StatusUnauthorized) {
		t.Errorf("a client sets the words: %v %d %s", err, r.StatusCode(), r.Body)
	}
	expectProblem(t, "an empty word", http.StatusBadRequest, client.INVALIDREQUEST)(put([]string{"fool", " "}, h.master()))
	expectProblem(t, "a word of asterisks", http.StatusBadRequest, client.INVALIDREQUEST)(put([]string{"***"}, h.master()))
	listed := func(h *harness) []string {
		t.Helper()
		r, err := h.c.GetSensitiveWordsWithResponse(ctx(t), h.master())
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("get the words: %v %d %s", err, r.StatusCode(), r.Body)
		}
		return deref(r.JSON200.Words)
	}
	if got := listed(h); got == nil || len(got) != 0 {
		t.Errorf("words before any were set: %#v, want []", got)
	}
	r, err := put([]string{"fool", "dumb idea", "fool", "a.b"}, h.master())
	if err != nil || r.StatusCode() != http.StatusOK || !slices.Equal(deref(r.JSON200.Words), []string{"fool", "dumb idea", "a.b"}) {
		t.Fatalf("set the words: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if got := listed(h); !slices.Equal(got, []string{"fool", "dumb idea", "a.b"}) {
		t.Errorf("words listed: %v", got)
	}

	const said, filtered = "You FOOL, a Dumb Idea! aXb a.b", "You ***, a ***! aXb ***"
	m := tom.sendText(group.Id, said)
	if deref(m.Text) != filtered {
		t.Errorf("the sender's answer: %q, want %q", deref(m.Text), filtered)
	}
	if got := js.lcTextCounted(filtered, 1, false); got.Message.Id != m.Id {
		t.Errorf("Jerry got %+v", got.Message)
	}
	if hist := jerry.lcHistory(group.Id); len(hist) != 1 || deref(hist[0].Text) != filtered {
		t.Errorf("history: %+v", hist)
	}
	if m := tom.sendText(pair.Id, said); deref(m.Text) != said {
		t.Errorf("one-to-one: %q, want it as said", deref(m.Text))
	}
	js.lcTextCounted(said, 1, false)

	er, err := h.c.EditMessageWithResponse(ctx(t), group.Id, m.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("fool me twice")}, tom.auth())
	if err != nil || er.StatusCode() != http.StatusOK || deref(er.JSON200.Text) != "*** me twice" {
		t.Errorf("edit in the group: %v %d %s", err, er.StatusCode(), er.Body)
	}

	h2 := h.restart()
	tom2 := &user{h: h2, LoginResult: tom.LoginResult}
	if m := tom2.sendText(group.Id, "fool"); deref(m.Text) != "***" {
		t.Errorf("after a restart: %q", deref(m.Text))
	}
	if got := listed(h2); len(got) != 3 {
		t.Errorf("words listed after a restart: %v", got)
	}
	if r, err := h2.c.PutSensitiveWordsWithResponse(ctx(t), client.SensitiveWords{Words: &[]string{}}, h2.master()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("clear the words: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if m := tom2.sendText(group.Id, "fool"); deref(m.Text) != "fool" {
		t.Errorf("after clearing: %q", deref(m.Text))
	}
}
