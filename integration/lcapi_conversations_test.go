package integration

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

type lcUpdated struct{ UpdatedAt, ObjectID string }

type lcResult[T any] struct {
	Result T `json:"result"`
}

// lcConvPath is a /1.2/rtm/conversations path.
func lcConvPath(id string, rest ...string) string {
	p := "/1.2/rtm/conversations/" + id
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// §1.2 rows 4, 7–10: deleting a conversation, its members, its mutes.
func TestLCConversationMembersMutesDelete(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry", "Mary")

	var members lcResult[[]string]
	lc(t, h, m, "GET", lcConvPath(conv.Id, "members"), nil, 200, &members)
	slices.Sort(members.Result)
	if !slices.Equal(members.Result, []string{"Jerry", "Mary", "Tom"}) {
		t.Errorf("members %v", members.Result)
	}

	// Muting for Tom and Jerry: Tom's own view says muted.
	var up lcUpdated
	lc(t, h, m, "POST", lcConvPath(conv.Id, "mutes"), map[string]any{"client_ids": []string{"Tom", "Jerry"}}, 200, &up)
	if up.ObjectID != conv.Id || !isISO(up.UpdatedAt) {
		t.Errorf("mute answered %+v", up)
	}
	if r, err := h.c.GetConversationWithResponse(ctx(t), conv.Id, tom.auth()); err != nil || r.JSON200 == nil || !r.JSON200.Muted {
		t.Fatalf("Tom's view after the mute: %v %s", err, r.Body)
	}
	var mutes lcResult[[]string]
	lc(t, h, m, "GET", lcConvPath(conv.Id, "mutes"), nil, 200, &mutes)
	slices.Sort(mutes.Result)
	if !slices.Equal(mutes.Result, []string{"Jerry", "Tom"}) {
		t.Errorf("mutes %v", mutes.Result)
	}
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "mutes"), map[string]any{"client_ids": []string{"Tom"}}, 200, &up)
	lc(t, h, m, "GET", lcConvPath(conv.Id, "mutes"), nil, 200, &mutes)
	if !slices.Equal(mutes.Result, []string{"Jerry"}) {
		t.Errorf("mutes after unmute %v", mutes.Result)
	}
	// A stranger in the list changes nobody.
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "mutes"), map[string]any{"client_ids": []string{"Mary", "Spike"}}, 400, 4317)
	lc(t, h, m, "GET", lcConvPath(conv.Id, "mutes"), nil, 200, &mutes)
	if !slices.Equal(mutes.Result, []string{"Jerry"}) {
		t.Errorf("mutes after a refused mute %v", mutes.Result)
	}
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "mutes"), map[string]any{"client_ids": []string{}}, 400, 1)
	lcExpectError(t, h, m, "POST", lcConvPath(conv.Id, "mutes"), "[", 400, 107)

	// Deleting: {} and gone for Parley's clients too.
	var out map[string]any
	lc(t, h, m, "DELETE", lcConvPath(conv.Id), nil, 200, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v", out)
	}
	expectProblem(t, "the deleted conversation", http.StatusNotFound, client.CONVERSATIONNOTFOUND)(h.c.GetConversationWithResponse(ctx(t), conv.Id, tom.auth()))
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id), nil, 400, 4401)
	lcExpectError(t, h, m, "GET", lcConvPath(conv.Id, "members"), nil, 400, 4401)

	// The master key is required for each.
	app := lcAppKey(h)
	for _, c := range []struct{ method, path string }{
		{"DELETE", lcConvPath("x")}, {"GET", lcConvPath("x", "members")}, {"POST", lcConvPath("x", "mutes")},
		{"DELETE", lcConvPath("x", "mutes")}, {"GET", lcConvPath("x", "mutes")},
	} {
		lcExpectError(t, h, app, c.method, c.path, nil, 401, 119)
	}
}

type lcSent struct {
	MsgID     string `json:"msg-id"`
	Timestamp int64  `json:"timestamp"`
}

// §1.2 rows 13–15: modify, recall and delete one message, named by its id,
// timestamp and sender.
func TestLCMessageModifyRecallDelete(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js := jerry.open()
	defer js.close()

	send := func(text string) lcSent {
		t.Helper()
		var s lcSent
		lc(t, h, m, "POST", lcConvPath(conv.Id, "messages"), map[string]any{"from_client": "Tom", "message": `{"_lctype":-1,"_lctext":"` + text + `"}`}, 200, &s)
		js.expectText(text)
		return s
	}
	first, second, third := send("helo"), send("oops"), send("bye")

	// Modify: Jerry hears of it, and history says the new words.
	var out map[string]any
	lc(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{
		"from_client": "Tom", "message": `{"_lctype":-1,"_lctext":"hello"}`, "timestamp": first.Timestamp}, 200, &out)
	if len(out) != 0 {
		t.Errorf("modify answered %v", out)
	}
	js.expect("messageupdate")
	page := jerry.history(conv.Id, client.ListMessagesParams{})
	if got := *page.Messages; len(got) != 3 || deref(got[0].Text) != "hello" || got[0].PatchedAt == nil {
		t.Errorf("history after modify: %+v", got[0])
	}
	// Wrong sender, wrong time, unknown id, missing fields.
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{
		"from_client": "Jerry", "message": "x", "timestamp": first.Timestamp}, 400, 4403)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{
		"from_client": "Tom", "message": "x", "timestamp": first.Timestamp - 5000}, 400, 4404)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", "nosuchmessage"), map[string]any{
		"from_client": "Tom", "message": "x", "timestamp": first.Timestamp}, 400, 4404)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{"from_client": "Tom", "message": "x"}, 400, 1)
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{"from_client": "Tom", "timestamp": first.Timestamp}, 400, 1)

	// Recall: Jerry hears of it; history keeps it recalled.
	lc(t, h, m, "PUT", lcConvPath(conv.Id, "messages", second.MsgID, "recall"), map[string]any{"from_client": "Tom", "timestamp": second.Timestamp}, 200, &out)
	js.expect("messagerecall")
	page = jerry.history(conv.Id, client.ListMessagesParams{})
	if got := *page.Messages; len(got) != 3 || !deref(got[1].Recalled) {
		t.Errorf("history after recall: %+v", got[1])
	}
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", second.MsgID, "recall"), map[string]any{"from_client": "Jerry", "timestamp": second.Timestamp}, 400, 4403)
	// A recalled message is not edited any more.
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", second.MsgID), map[string]any{
		"from_client": "Tom", "message": "x", "timestamp": second.Timestamp}, 403, 4320)

	// Delete: the server's copy only; nobody is told.
	q := func(from string, ts int64) string {
		return "?from_client=" + url.QueryEscape(from) + "&timestamp=" + strconv.FormatInt(ts, 10)
	}
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "messages", third.MsgID)+q("Jerry", third.Timestamp), nil, 400, 4403)
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "messages", third.MsgID)+"?from_client=Tom", nil, 400, 1)
	lc(t, h, m, "DELETE", lcConvPath(conv.Id, "messages", third.MsgID)+q("Tom", third.Timestamp), nil, 200, &out)
	page = jerry.history(conv.Id, client.ListMessagesParams{})
	if got := *page.Messages; len(got) != 2 || got[1].Id != second.MsgID {
		t.Errorf("history after delete: %+v", got)
	}
	lcExpectError(t, h, m, "DELETE", lcConvPath(conv.Id, "messages", third.MsgID)+q("Tom", third.Timestamp), nil, 400, 4404)

	app := lcAppKey(h)
	lcExpectError(t, h, app, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), nil, 401, 119)
	lcExpectError(t, h, app, "PUT", lcConvPath(conv.Id, "messages", first.MsgID, "recall"), nil, 401, 119)
	lcExpectError(t, h, app, "DELETE", lcConvPath(conv.Id, "messages", first.MsgID), nil, 401, 119)
	// to_clients belongs to service conversations' targeted messages.
	lcExpectError(t, h, m, "PUT", lcConvPath(conv.Id, "messages", first.MsgID), map[string]any{
		"from_client": "Tom", "message": "x", "timestamp": first.Timestamp, "to_clients": []string{"Jerry"}}, 501, 4308)
}
