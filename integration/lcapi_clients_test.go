package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
)

// lcJoin seats (or subscribes) u in conversation id, through Parley's API.
func lcJoin(t *testing.T, h *harness, u *user, id string) {
	t.Helper()
	if r, err := h.c.JoinConversationWithBodyWithResponse(ctx(t), id, "", nil, u.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("%s joins %s: %v %v", u.ClientId, id, err, r)
	}
}

// lcCreate creates a conversation through /1.2 with the master key.
func lcCreate(t *testing.T, h *harness, body map[string]any) string {
	t.Helper()
	var conv lcConv
	lc(t, h, lcMasterKey(h), "POST", "/1.2/rtm/conversations", body, 200, &conv)
	return conv.ObjectID
}

// §1.5: /1.2/rtm/clients.
func TestLCClients(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom := h.login("Tom")
	h.login("Jerry") // logged in without a stream: offline
	ts := tom.open()
	defer ts.close()

	// check-online: the online ones; unknown clients are offline.
	var online struct{ Results []string }
	lc(t, h, m, "POST", "/1.2/rtm/clients/check-online", map[string]any{"client_ids": []string{"Tom", "Jerry", "Nobody"}}, 200, &online)
	if strings.Join(online.Results, ",") != "Tom" {
		t.Errorf("check-online: %v, want [Tom]", online.Results)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = "c" + strings.Repeat("x", i+1)
	}
	lcExpectError(t, h, m, "POST", "/1.2/rtm/clients/check-online", map[string]any{"client_ids": many}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/clients/check-online", map[string]any{"client_ids": []string{}}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/clients/check-online", map[string]any{"client_ids": []string{"a:b"}}, 400, 1)
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.2/rtm/clients/check-online", map[string]any{"client_ids": []string{"Tom"}}, 401, 119)

	// unread-count: the app key may; all conversations or one.
	c1 := tom.createConv("Jerry")
	c2 := tom.createConv("Jerry", "Mary")
	tom.sendText(c1.Id, "one")
	tom.sendText(c1.Id, "two")
	tom.sendText(c2.Id, "three")
	var count struct{ Count *int }
	for _, c := range []struct {
		hdr  http.Header
		path string
		want int
	}{
		{lcAppKey(h), "/1.2/rtm/clients/Jerry/unread-count", 3},
		{lcSign(h.srv.AppKey, "", time.Now()), "/1.2/rtm/clients/Jerry/unread-count?conv_id=" + c1.Id, 2},
		{m, "/1.2/rtm/clients/Jerry/unread-count?conv_id=" + c2.Id, 1},
		{m, "/1.2/rtm/clients/Jerry/unread-count?conv_id=nosuchconversation", 0},
		{m, "/1.2/rtm/clients/Tom/unread-count", 0},
		{m, "/1.2/rtm/clients/Nobody/unread-count", 0},
	} {
		count.Count = nil
		lc(t, h, c.hdr, "GET", c.path, nil, 200, &count)
		if count.Count == nil || *count.Count != c.want {
			t.Errorf("%s: %v, want %d", c.path, count.Count, c.want)
		}
	}
	lcExpectError(t, h, http.Header{}, "GET", "/1.2/rtm/clients/Jerry/unread-count", nil, 401, 401)

	// kick: the reason is at most 20 characters; the client's streams end
	// and its tokens stop working.
	lcExpectError(t, h, m, "POST", "/1.2/rtm/clients/Tom/kick", map[string]any{"reason": strings.Repeat("é", 21)}, 400, 1)
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.2/rtm/clients/Tom/kick", map[string]any{}, 401, 119)
	var empty map[string]any
	lc(t, h, m, "POST", "/1.2/rtm/clients/Tom/kick", map[string]any{"reason": strings.Repeat("é", 20)}, 200, &empty)
	if len(empty) != 0 {
		t.Errorf("kick answered %v, want {}", empty)
	}
	ts.untilEOF() // after the membership events of the conversations above
	r, err := h.c.GetUnreadWithResponse(ctx(t), tom.auth())
	if err != nil || r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("a kicked session's token still works: %v %v", err, r.StatusCode())
	}
	lc(t, h, m, "POST", "/1.2/rtm/clients/Tom/kick", nil, 200, &empty) // nobody left: still {}
	lcExpectError(t, h, m, "POST", "/1.2/rtm/clients/a:b/kick", nil, 400, 1)

	// service-conversations: the client's subscriptions, in the order made.
	news := lcCreate(t, h, map[string]any{"name": "news", "sys": true})
	deals := lcCreate(t, h, map[string]any{"name": "deals", "sys": true})
	for _, id := range []string{news, deals} {
		lc(t, h, m, "POST", "/1.2/rtm/service-conversations/"+id+"/subscribers", map[string]any{"client_id": "Jerry"}, 200, nil)
	}
	type sub struct {
		Timestamp  int64
		Subscriber string
		ConvID     string `json:"conv_id"`
	}
	var subs []sub
	lc(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations", nil, 200, &subs)
	// (Made in the same millisecond, two are ordered by conversation id.)
	if len(subs) != 2 || subs[0].ConvID == subs[1].ConvID || subs[0].Subscriber != "Jerry" || subs[0].Timestamp == 0 ||
		subs[0].Timestamp > subs[1].Timestamp || (subs[0].ConvID != news && subs[0].ConvID != deals) || (subs[1].ConvID != news && subs[1].ConvID != deals) {
		t.Fatalf("subscriptions: %+v", subs)
	}
	first, second := subs[0], subs[1]
	lc(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations?limit=1&direction=old", nil, 200, &subs)
	if len(subs) != 1 || subs[0] != second {
		t.Errorf("newest subscription: %+v, want %+v", subs, second)
	}
	lc(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations?conv_id="+first.ConvID+"&timestamp="+strconv.FormatInt(first.Timestamp, 10), nil, 200, &subs)
	if len(subs) != 1 || subs[0] != second {
		t.Errorf("subscriptions after the first: %+v, want %+v", subs, second)
	}
	lc(t, h, m, "GET", "/1.2/rtm/clients/Tom/service-conversations", nil, 200, &subs)
	if len(subs) != 0 {
		t.Errorf("Tom's subscriptions: %+v", subs)
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations?conv_id="+news, nil, 400, 1)
	lcExpectError(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations?direction=up", nil, 400, 1)
	lcExpectError(t, h, m, "GET", "/1.2/rtm/clients/Jerry/service-conversations?limit=0", nil, 400, 1)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.2/rtm/clients/Jerry/service-conversations", nil, 401, 119)

	// Unsupported, with the feature named; master-only ones still ask for
	// the master key first.
	for _, c := range []struct{ method, path string }{
		{"GET", "/1.2/rtm/clients/Tom/messages"},
		{"POST", "/1.2/rtm/clients/Tom/blacklists"},
		{"DELETE", "/1.2/rtm/clients/Tom/blacklists"},
		{"GET", "/1.2/rtm/clients/Tom/blacklists"},
	} {
		lcExpectError(t, h, m, c.method, c.path, nil, 501, 4308)
		lcExpectError(t, h, lcAppKey(h), c.method, c.path, nil, 401, 119)
	}
	e := lcExpectError(t, h, lcAppKey(h), "GET", "/1.2/rtm/clients/sign?session_token=x", nil, 501, 4308)
	if !strings.Contains(e.Error, "_User") {
		t.Errorf("clients/sign: %q does not name the feature", e.Error)
	}
}

// §1.6: stats, all-conversations, broadcasts, all messages.
func TestLCGlobal(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	ts := tom.open()
	defer ts.close()
	js := jerry.open()
	defer js.close()
	h.login("Mary") // logged in, no stream: not online

	var stats struct {
		Result map[string]int `json:"result"`
	}
	lc(t, h, m, "GET", "/1.2/rtm/stats", nil, 200, &stats)
	if n, ok := stats.Result["online_user_count"]; !ok || n != 2 {
		t.Errorf("stats: %v, want online_user_count 2", stats.Result)
	}
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.2/rtm/stats", nil, 401, 119)

	// all-conversations: every kind.
	normal := lcCreate(t, h, map[string]any{"m": []string{"Tom", "Jerry"}})
	room := lcCreate(t, h, map[string]any{"name": "lobby", "tr": true})
	sys := lcCreate(t, h, map[string]any{"name": "news", "sys": true})
	js.expect("invited")
	js.expect("membersjoined")
	var all struct{ Results []lcConv }
	lc(t, h, m, "GET", "/1.2/rtm/all-conversations?limit=10", nil, 200, &all)
	got := map[string]bool{}
	for _, c := range all.Results {
		got[c.ObjectID] = true
	}
	if len(all.Results) != 3 || !got[normal] || !got[room] || !got[sys] {
		t.Errorf("all-conversations: %+v", all.Results)
	}
	lc(t, h, m, "GET", "/1.2/rtm/all-conversations?where="+url.QueryEscape(`{"tr":true}`), nil, 200, &all)
	if len(all.Results) != 1 || all.Results[0].ObjectID != room {
		t.Errorf("all-conversations where tr: %+v", all.Results)
	}
	lc(t, h, m, "GET", "/1.2/rtm/all-conversations?skip=1&limit=1", nil, 200, &all)
	if len(all.Results) != 1 {
		t.Errorf("all-conversations skip/limit: %+v", all.Results)
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/all-conversations?where="+url.QueryEscape(`{"m":{"$bogus":1}}`), nil, 400, 4310)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.2/rtm/all-conversations", nil, 401, 119)

	// A broadcast reaches the service conversation's subscribers, and
	// stays in its history.
	lcJoin(t, h, jerry, sys)
	var sent struct {
		MsgID     string `json:"msg-id"`
		Timestamp int64  `json:"timestamp"`
	}
	lc(t, h, m, "POST", "/1.2/rtm/broadcasts", map[string]any{
		"from_client": "news-desk", "conv_id": sys, "message": `{"_lctype":-1,"_lctext":"maintenance at noon"}`,
	}, 200, &sent)
	if sent.MsgID == "" || sent.Timestamp == 0 {
		t.Fatalf("broadcast answered %+v", sent)
	}
	msg := js.expectText("maintenance at noon")
	if msg.Message.Id != sent.MsgID || msg.Message.From != "news-desk" || msg.ConversationID != sys {
		t.Errorf("Jerry got %+v", msg)
	}
	if page := jerry.history(sys, client.ListMessagesParams{}); len(*page.Messages) != 1 || (*page.Messages)[0].Id != sent.MsgID {
		t.Errorf("service conversation history: %+v", page.Messages)
	}
	broadcast := func(extra map[string]any) map[string]any {
		b := map[string]any{"from_client": "news-desk", "conv_id": sys, "message": "hi"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	// push: offline subscribers' push content, a plain string its alert.
	lc(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"push": "hello"}), 200, &sent)
	js.expectMessage()
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"push": 3}), 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"conv_id": normal}), 400, 4313)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"conv_id": "nosuchconversation"}), 400, 4401)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"from_client": ""}), 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"conv_id": ""}), 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", map[string]any{"from_client": "x", "conv_id": sys}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"valid_till": 1}), 501, 4308)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/broadcasts", broadcast(map[string]any{"transient": true}), 501, 4308)
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.2/rtm/broadcasts", broadcast(nil), 401, 119)

	// Deleting a broadcast: those yet to fetch it never will.
	var empty map[string]any
	lc(t, h, m, "DELETE", "/1.2/rtm/broadcasts/"+sent.MsgID, nil, 200, &empty)
	if page := jerry.history(sys, client.ListMessagesParams{}); len(*page.Messages) != 1 || (*page.Messages)[0].Id == sent.MsgID {
		t.Errorf("history after deleting %s: %+v", sent.MsgID, page.Messages)
	}
	lcExpectError(t, h, m, "DELETE", "/1.2/rtm/broadcasts/"+sent.MsgID, nil, 400, 4404)
	lcExpectError(t, h, m, "DELETE", "/1.2/rtm/broadcasts/qNkRkFWOeSqP65S9fDyHJw", nil, 400, 4404)
	tom.sendText(normal, "not a broadcast")
	var recs []lcRecord
	lc(t, h, m, "GET", "/1.2/rtm/conversations/"+normal+"/messages", nil, 200, &recs)
	lcExpectError(t, h, m, "DELETE", "/1.2/rtm/broadcasts/"+recs[0].MsgID, nil, 400, 4313)
	lcExpectError(t, h, lcAppKey(h), "DELETE", "/1.2/rtm/broadcasts/"+recs[0].MsgID, nil, 401, 119)
	lcExpectError(t, h, m, "GET", "/1.2/rtm/broadcasts?conv_id="+sys, nil, 501, 4308)
	lcExpectError(t, h, m, "GET", "/1.2/rtm/messages", nil, 501, 4308)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.2/rtm/messages", nil, 401, 119)
}
