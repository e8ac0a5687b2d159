package integration

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

func lcSysPath(id string, rest ...string) string {
	p := "/1.2/rtm/service-conversations/" + id
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

type lcSubscription struct {
	Timestamp  int64  `json:"timestamp"`
	Subscriber string `json:"subscriber"`
	ConvID     string `json:"conv_id"`
}

// §1.4: service conversations are Parley's system conversations.
func TestLCServiceConversations(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)

	var made struct{ ObjectID, CreatedAt string }
	lc(t, h, m, "POST", "/1.2/rtm/service-conversations", map[string]any{"name": "My First Service-conversation"}, 200, &made)
	if made.ObjectID == "" || !isISO(made.CreatedAt) {
		t.Fatalf("created %+v", made)
	}
	sys := made.ObjectID
	r, err := h.c.GetConversationWithResponse(ctx(t), sys, h.master())
	if err != nil || r.JSON200 == nil || r.JSON200.Kind != client.ConversationKindSystem {
		t.Fatalf("Parley's view: %v %s", err, r.Body)
	}
	var list struct{ Results []lcConv }
	lc(t, h, m, "GET", "/1.2/rtm/service-conversations?where="+url.QueryEscape(`{"name":"My First Service-conversation"}`), nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ObjectID != sys {
		t.Errorf("query %+v", list.Results)
	}
	lc(t, h, m, "GET", "/1.2/rtm/chatrooms", nil, 200, &list)
	if len(list.Results) != 0 {
		t.Errorf("chat rooms %+v", list.Results)
	}
	var up lcUpdated
	lc(t, h, m, "PUT", lcSysPath(sys), map[string]any{"name": "News"}, 200, &up)
	if up.ObjectID != sys || !isISO(up.UpdatedAt) {
		t.Errorf("update %+v", up)
	}

	// Subscribers: subscribe, page by client_id, count, unsubscribe.
	alice := h.login("Alice")
	as := alice.open()
	defer as.close()
	var out map[string]any
	for _, c := range []string{"Alice", "Bob", "Carol"} {
		lc(t, h, m, "POST", lcSysPath(sys, "subscribers"), map[string]any{"client_id": c}, 200, &out)
	}
	var subs []lcSubscription
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers")+"?limit=2", nil, 200, &subs)
	if len(subs) != 2 || subs[0].Subscriber != "Alice" || subs[1].Subscriber != "Bob" || subs[0].ConvID != sys || subs[0].Timestamp == 0 {
		t.Fatalf("subscribers %+v", subs)
	}
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers")+"?limit=2&client_id=Bob", nil, 200, &subs)
	if len(subs) != 1 || subs[0].Subscriber != "Carol" {
		t.Errorf("after Bob %+v", subs)
	}
	var count struct{ Count int }
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers", "count"), nil, 200, &count)
	if count.Count != 3 {
		t.Errorf("count %d", count.Count)
	}
	lc(t, h, m, "DELETE", lcSysPath(sys, "subscribers", "Carol"), nil, 200, &out)
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers", "count"), nil, 200, &count)
	if count.Count != 2 {
		t.Errorf("count after unsubscribing %d", count.Count)
	}
	lcExpectError(t, h, m, "GET", lcSysPath(sys, "subscribers")+"?limit=51", nil, 400, 1)
	lcExpectError(t, h, m, "POST", lcSysPath(sys, "subscribers"), map[string]any{}, 400, 1)
	lcExpectError(t, h, m, "POST", lcSysPath(sys, "subscribers"), map[string]any{"client_id": "a:b"}, 400, 1)

	// Broadcasts reach every subscriber; modify and recall them.
	var sent lcSent
	lc(t, h, m, "POST", lcSysPath(sys, "broadcasts"), map[string]any{"from_client": "newsroom", "message": `{"_lctype":-1,"_lctext":"extra!"}`, "push": "Breaking news"}, 200, &sent)
	got := as.expectText("extra!")
	if got.Message.Id != sent.MsgID || got.Message.From != "newsroom" {
		t.Errorf("Alice got %+v", got.Message)
	}
	page := alice.history(sys, client.ListMessagesParams{})
	if len(*page.Messages) != 1 {
		t.Errorf("Alice's history %+v", page.Messages)
	}
	// One subscriber's history: the broadcasts and its own messages, not
	// other subscribers'.
	bob := h.login("Bob")
	bob.sendText(sys, "a word for the newsroom")
	var recs []lcRecord
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers", "Alice", "messages"), nil, 200, &recs)
	if len(recs) != 1 || recs[0].MsgID != sent.MsgID || recs[0].From != "newsroom" {
		t.Errorf("Alice's history through the REST API %+v", recs)
	}
	lc(t, h, m, "GET", lcSysPath(sys, "subscribers", "Bob", "messages")+"?reversed=true", nil, 200, &recs)
	if len(recs) != 2 || recs[0].MsgID != sent.MsgID || recs[1].From != "Bob" {
		t.Errorf("Bob's history through the REST API %+v", recs)
	}
	lcExpectError(t, h, m, "GET", lcSysPath(sys, "subscribers", "Carol", "messages"), nil, 400, 4317)
	lcExpectError(t, h, m, "GET", lcSysPath(sys, "subscribers", "Alice", "messages")+"?limit=0", nil, 400, 1)
	lc(t, h, m, "PUT", lcSysPath(sys, "messages", sent.MsgID), map[string]any{"from_client": "newsroom", "message": `{"_lctype":-1,"_lctext":"Extra!"}`, "timestamp": sent.Timestamp}, 200, &out)
	as.expect("messageupdate")
	lc(t, h, m, "PUT", lcSysPath(sys, "messages", sent.MsgID, "recall"), map[string]any{"from_client": "newsroom", "timestamp": sent.Timestamp}, 200, &out)
	as.expect("messagerecall")
	lcExpectError(t, h, m, "POST", lcSysPath(sys, "broadcasts"), map[string]any{"message": "x"}, 400, 1)
	lcExpectError(t, h, m, "POST", lcSysPath(sys, "broadcasts"), map[string]any{"from_client": "newsroom", "message": "x", "push": 3}, 400, 1)

	// What Parley does not have says so.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", lcSysPath(sys, "messages"), map[string]any{"from_client": "newsroom", "to_clients": []string{"Alice"}, "message": "x"}},
		{"DELETE", lcSysPath(sys, "subscribers", "Alice", "messages", sent.MsgID) + fmt.Sprintf("?from_client=newsroom&timestamp=%d", sent.Timestamp), nil},
		{"POST", lcSysPath(sys, "blacklists"), map[string]any{"client_ids": []string{"Bob"}}},
		{"GET", lcSysPath(sys, "blacklists"), nil},
		{"PUT", lcSysPath(sys, "messages", sent.MsgID), map[string]any{"from_client": "newsroom", "message": "x", "timestamp": sent.Timestamp, "to_clients": []string{"Alice"}}},
	} {
		lcExpectError(t, h, m, c.method, c.path, c.body, 501, 4308)
	}

	app := lcAppKey(h)
	for _, c := range []struct{ method, path string }{
		{"POST", "/1.2/rtm/service-conversations"}, {"GET", "/1.2/rtm/service-conversations"}, {"PUT", lcSysPath(sys)},
		{"DELETE", lcSysPath(sys)}, {"POST", lcSysPath(sys, "subscribers")}, {"GET", lcSysPath(sys, "subscribers")},
		{"DELETE", lcSysPath(sys, "subscribers", "Alice")}, {"GET", lcSysPath(sys, "subscribers", "count")},
		{"POST", lcSysPath(sys, "broadcasts")}, {"GET", lcSysPath(sys, "subscribers", "Alice", "messages")},
	} {
		lcExpectError(t, h, app, c.method, c.path, nil, 401, 119)
	}
	// A normal conversation is not a service conversation, nor the reverse.
	var normal lcConv
	lc(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{"m": []string{"Tom"}}, 200, &normal)
	lcExpectError(t, h, m, "POST", lcSysPath(normal.ObjectID, "broadcasts"), map[string]any{"from_client": "x", "message": "x"}, 400, 4313)
	lcExpectError(t, h, m, "POST", lcConvPath(sys, "messages"), map[string]any{"from_client": "x", "message": "x"}, 400, 4314)

	lc(t, h, m, "DELETE", lcSysPath(sys), nil, 200, &out)
	lcExpectError(t, h, m, "GET", lcSysPath(sys, "subscribers", "count"), nil, 400, 4401)
}
