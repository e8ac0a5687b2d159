package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// §1.9: the /1.1 messages API: history, send (transient by default),
// patch, unread.
func TestLCV11Messages(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js := jerry.open()
	defer js.close()

	// POST /1.1/rtm/messages: transient unless told otherwise, answering {}.
	var empty map[string]any
	lc(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "conv_id": conv.Id, "message": `{"_lctype":-1,"_lctext":"passing by"}`}, 200, &empty)
	if len(empty) != 0 {
		t.Errorf("send answered %v, want {}", empty)
	}
	got := js.expectText("passing by")
	if !deref(got.Message.Transient) {
		t.Errorf("a /1.1 send without transient was not transient: %+v", got.Message)
	}
	lc(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "conv_id": conv.Id, "message": "kept", "transient": false}, 200, &empty)
	got = js.expectMessage()
	if deref(got.Message.Data) != "kept" || deref(got.Message.Transient) {
		t.Errorf("transient false: %+v", got.Message)
	}
	first := jerry.sendText(conv.Id, "hello Tom")

	// History by convid: only the stored messages, newest first, with
	// /1.2's parameters and max_ts for timestamp.
	var recs []lcRecord
	lc(t, h, m, "GET", "/1.1/rtm/messages/history?convid="+conv.Id, nil, 200, &recs)
	if len(recs) != 2 || recs[0].MsgID != first.Id || recs[1].Data != "kept" {
		t.Fatalf("history: %+v", recs)
	}
	lc(t, h, m, "GET", "/1.1/rtm/messages/logs?convid="+conv.Id+"&limit=1", nil, 200, &recs)
	if len(recs) != 1 || recs[0].MsgID != first.Id {
		t.Errorf("logs limit=1: %+v", recs)
	}
	lc(t, h, m, "GET", "/1.1/rtm/messages/history?convid="+conv.Id+"&max_ts="+strconv.FormatInt(first.Timestamp, 10)+"&msgid="+url.QueryEscape(first.Id), nil, 200, &recs)
	if len(recs) != 1 || recs[0].Data != "kept" {
		t.Errorf("history before max_ts+msgid: %+v", recs)
	}
	lcExpectError(t, h, m, "GET", "/1.1/rtm/messages/history?from=Tom", nil, 501, 4308)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/messages/history", nil, 501, 4308)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/messages/history?convid="+conv.Id+"&limit=0", nil, 400, 1)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/messages/history?convid=nosuchconversation", nil, 400, 4401)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.1/rtm/messages/history?convid="+conv.Id, nil, 401, 119)

	// Send errors.
	lcExpectError(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "message": "x"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"conv_id": conv.Id, "message": "x"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "conv_id": conv.Id}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "conv_id": conv.Id, "message": "x", "to_peers": []string{"Jerry"}}, 501, 4308)
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.1/rtm/messages", map[string]any{"from_peer": "Tom", "conv_id": conv.Id, "message": "x"}, 401, 119)

	// patch/message: an edit as its sender, then a recall.
	ts := strconv.FormatInt(first.Timestamp, 10)
	patch := func(extra map[string]any) map[string]any {
		b := map[string]any{"conv_id": conv.Id, "msg_id": first.Id, "timestamp": first.Timestamp}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	lc(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"from_peer": "Jerry", "message": `{"_lctype":-1,"_lctext":"hello, Tom"}`}), 200, &empty)
	lc(t, h, m, "GET", "/1.1/rtm/messages/history?convid="+conv.Id+"&limit=1", nil, 200, &recs)
	if len(recs) != 1 || recs[0].Data != `{"_lctype":-1,"_lctext":"hello, Tom"}` {
		t.Errorf("after the edit: %+v (ts %s)", recs, ts)
	}
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"from_peer": "Tom", "message": "not mine"}), 400, 4403)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"from_peer": "Jerry", "message": "x", "timestamp": first.Timestamp + 1}), 400, 4404)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"message": "who?"}), 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", map[string]any{"conv_id": conv.Id, "msg_id": first.Id, "from_peer": "Jerry", "message": "x"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"from_peer": "Jerry", "message": "x", "to_peers": []string{"Tom"}}), 501, 4308)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"msg_id": "nosuchmessage", "from_peer": "Jerry", "message": "x"}), 400, 4404)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"recall": true}), 400, 1) // from_peer
	lc(t, h, m, "POST", "/1.1/rtm/patch/message", patch(map[string]any{"recall": true, "from_peer": "Jerry"}), 200, &empty)
	page := tom.history(conv.Id, client.ListMessagesParams{})
	if last := (*page.Messages)[len(*page.Messages)-1]; last.Id != first.Id || !deref(last.Recalled) {
		t.Errorf("after the recall: %+v", last)
	}
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.1/rtm/patch/message", patch(map[string]any{"recall": true, "from_peer": "Jerry"}), 401, 119)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/patch/message", map[string]any{"msg_id": first.Id, "from_peer": "Jerry", "recall": true}, 400, 1)

	// messages/logs: DELETE drops the server's copy; PUT (rewriting it
	// alone) is not served.
	lcExpectError(t, h, m, "DELETE", "/1.1/rtm/messages/logs?convid="+conv.Id+"&msgid="+first.Id+"&timestamp="+ts+"&from=Tom", nil, 400, 4403)
	lcExpectError(t, h, m, "DELETE", "/1.1/rtm/messages/logs?convid="+conv.Id+"&msgid="+first.Id, nil, 400, 1)
	lc(t, h, m, "DELETE", "/1.1/rtm/messages/logs?convid="+conv.Id+"&msgid="+first.Id+"&timestamp="+ts+"&from=Jerry", nil, 200, &empty)
	lc(t, h, m, "GET", "/1.1/rtm/messages/history?convid="+conv.Id, nil, 200, &recs)
	if len(recs) != 1 || recs[0].Data != "kept" {
		t.Errorf("after the delete: %+v", recs)
	}
	lcExpectError(t, h, m, "PUT", "/1.1/rtm/messages/logs", map[string]any{"msg-id": first.Id, "conv-id": conv.Id}, 501, 4308)

	// Unread counts, with the app key.
	tom.sendText(conv.Id, "are you there?")
	var count struct{ Count *int }
	lc(t, h, lcAppKey(h), "GET", "/1.1/rtm/messages/unread/Jerry", nil, 200, &count)
	if count.Count == nil || *count.Count != 1 {
		t.Errorf("unread: %v", count.Count)
	}
	lc(t, h, lcAppKey(h), "GET", "/1.1/rtm/messages/unread/Jerry/"+conv.Id, nil, 200, &count)
	if count.Count == nil || *count.Count != 1 {
		t.Errorf("unread in %s: %v", conv.Id, count.Count)
	}
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.1/rtm/messages/unread/a:b", nil, 400, 1)
}

// §1.9: broadcasts, subscriptions, chat rooms, presence, silence, kick
// and _Conversation through /1.1.
func TestLCV11Conversations(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)
	var empty map[string]any
	sys := lcCreate(t, h, map[string]any{"name": "news", "sys": true})
	room := lcCreate(t, h, map[string]any{"name": "lobby", "tr": true})
	group := lcCreate(t, h, map[string]any{"m": []string{"Tom", "Jerry"}})
	jerry, mary := h.login("Jerry"), h.login("Mary")
	js := jerry.open()
	defer js.close()

	// Subscriptions.
	lc(t, h, m, "POST", "/1.1/rtm/conversation/subscription", map[string]any{"conv_id": sys, "client_id": "Jerry"}, 200, &empty)
	subscribed := func(client string) bool {
		t.Helper()
		var b bool
		lc(t, h, m, "GET", "/1.1/rtm/conversation/subscribed?conv_id="+sys+"&client_id="+client, nil, 200, &b)
		return b
	}
	if !subscribed("Jerry") || subscribed("Mary") {
		t.Errorf("subscribed: Jerry %v, Mary %v", subscribed("Jerry"), subscribed("Mary"))
	}
	lc(t, h, m, "POST", "/1.1/rtm/conversation/subscription", map[string]any{"conv_id": sys, "client_id": "Mary"}, 200, &empty)
	var count struct{ Count *int }
	lc(t, h, m, "GET", "/1.1/rtm/conversation/subscribers/count?conv_id="+sys, nil, 200, &count)
	if count.Count == nil || *count.Count != 2 {
		t.Errorf("subscribers: %v", count.Count)
	}
	lc(t, h, m, "DELETE", "/1.1/rtm/conversation/subscription?conv_id="+sys+"&client_id=Mary", nil, 200, &empty)
	if subscribed("Mary") {
		t.Error("Mary is still subscribed")
	}
	lcExpectError(t, h, m, "POST", "/1.1/rtm/conversation/subscription", map[string]any{"conv_id": group, "client_id": "Mary"}, 400, 4313)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/conversation/subscription", map[string]any{"conv_id": sys}, 400, 1)
	var b bool
	lc(t, h, m, "GET", "/1.1/rtm/conversation/subscribed?conv_id=nosuchconversation&client_id=Jerry", nil, 200, &b)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/conversation/subscribed?conv_id="+group+"&client_id=Jerry", nil, 400, 4313)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/conversation/subscribed?conv_id="+sys+"&client_id=a:b", nil, 400, 1)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/conversation/subscribers/count?conv_id="+room, nil, 400, 4313)
	var mine []struct {
		Subscriber string
		ConvID     string `json:"conv_id"`
	}
	lc(t, h, m, "GET", "/1.1/rtm/conversation/subscription?client_id=Jerry&direction=old&limit=5", nil, 200, &mine)
	if len(mine) != 1 || mine[0].ConvID != sys || mine[0].Subscriber != "Jerry" {
		t.Errorf("Jerry's subscriptions: %+v", mine)
	}
	lcExpectError(t, h, m, "GET", "/1.1/rtm/conversation/subscription", nil, 400, 1)
	var subs []struct {
		Timestamp  int64
		Subscriber string
		ConvID     string `json:"conv_id"`
	}
	lc(t, h, m, "GET", "/1.1/rtm/conversation/subscribers?conv_id="+sys+"&limit=10", nil, 200, &subs)
	if len(subs) != 1 || subs[0].Subscriber != "Jerry" || subs[0].ConvID != sys || subs[0].Timestamp == 0 {
		t.Errorf("subscribers: %+v", subs)
	}
	lc(t, h, m, "GET", "/1.1/rtm/conversation/subscribers?conv_id="+sys+"&client_id=Jerry", nil, 200, &subs)
	if len(subs) != 0 {
		t.Errorf("subscribers after Jerry: %+v", subs)
	}
	lcExpectError(t, h, m, "GET", "/1.1/rtm/conversation/subscribers?conv_id="+group, nil, 400, 4313)
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.1/rtm/conversation/subscription", map[string]any{"conv_id": sys, "client_id": "Mary"}, 401, 119)

	// Broadcasts, global and to subscribers, reach Jerry.
	var sent struct {
		MsgID string `json:"msg-id"`
	}
	lc(t, h, m, "POST", "/1.1/rtm/broadcast", map[string]any{"from_peer": "desk", "conv_id": sys, "message": "all hands"}, 200, &sent)
	if got := js.expectMessage(); got.Message.Id != sent.MsgID || deref(got.Message.Data) != "all hands" {
		t.Errorf("global broadcast: %+v", got.Message)
	}
	lc(t, h, m, "POST", "/1.1/rtm/broadcast/subscriber", map[string]any{"from_peer": "desk", "conv_id": sys, "message": "subscribers only"}, 200, &sent)
	if got := js.expectMessage(); got.Message.Id != sent.MsgID || deref(got.Message.Data) != "subscribers only" {
		t.Errorf("subscriber broadcast: %+v", got.Message)
	}
	lcExpectError(t, h, m, "POST", "/1.1/rtm/broadcast", map[string]any{"from_peer": "desk", "conv_id": sys, "message": "x", "valid_till": 1}, 501, 4308)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/broadcast/subscriber", map[string]any{"from_peer": "desk", "conv_id": group, "message": "x"}, 400, 4313)
	lc(t, h, m, "DELETE", "/1.1/rtm/broadcast?mid="+sent.MsgID, nil, 200, &empty)
	lcExpectError(t, h, m, "DELETE", "/1.1/rtm/broadcast?mid="+sent.MsgID, nil, 400, 4404)
	lcExpectError(t, h, m, "DELETE", "/1.1/rtm/broadcast", nil, 400, 1)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/broadcast?conv_id="+sys, nil, 501, 4308)

	// Chat rooms: who is in, how many.
	ms := mary.open() // a seat counts while its session is online
	defer ms.close()
	lcJoin(t, h, mary, room)
	var onlines struct{ Result *int }
	lc(t, h, m, "GET", "/1.1/rtm/transient_group/onlines?gid="+room, nil, 200, &onlines)
	if onlines.Result == nil || *onlines.Result != 1 {
		t.Errorf("onlines: %v", onlines.Result)
	}
	var members struct{ Result []string }
	lc(t, h, m, "GET", "/1.1/rtm/transient_group/members?gid="+room, nil, 200, &members)
	if strings.Join(members.Result, ",") != "Mary" {
		t.Errorf("members: %v", members.Result)
	}
	lcExpectError(t, h, m, "GET", "/1.1/rtm/transient_group/onlines?gid="+group, nil, 400, 4316)
	lcExpectError(t, h, m, "GET", "/1.1/rtm/transient_group/members?gid=", nil, 400, 1)

	// Presence.
	var online struct{ Results []string }
	lc(t, h, m, "POST", "/1.1/rtm/online", map[string]any{"peers": []string{"Jerry", "Mary", "Nobody"}}, 200, &online)
	if strings.Join(online.Results, ",") != "Jerry,Mary" {
		t.Errorf("online: %v", online.Results)
	}
	lcExpectError(t, h, m, "POST", "/1.1/rtm/online", map[string]any{"peers": []string{}}, 400, 1)

	// Temporary silence: Jerry cannot send until it is lifted.
	lc(t, h, m, "POST", "/1.1/rtm/conversation/blacklist", map[string]any{"conv_id": group, "client_id": "Jerry", "ttl": 60}, 200, &empty)
	js.expect("muted")
	rs, err := h.c.SendMessageWithResponse(ctx(t), group, textMsg("let me talk"), jerry.auth())
	expectProblem(t, "a silenced member sends", http.StatusForbidden, client.MEMBERSILENCED)(rs, err)
	lc(t, h, m, "DELETE", "/1.1/rtm/conversation/blacklist?conv_id="+group+"&client_id=Jerry", nil, 200, &empty)
	js.expect("unmuted")
	jerry.sendText(group, "thanks")
	for _, ttl := range []any{nil, 0, 86401} {
		lcExpectError(t, h, m, "POST", "/1.1/rtm/conversation/blacklist", map[string]any{"conv_id": group, "client_id": "Jerry", "ttl": ttl}, 400, 1)
	}
	lcExpectError(t, h, m, "POST", "/1.1/rtm/conversation/blacklist", map[string]any{"conv_id": group, "client_id": "Jerry", "ttl": "60"}, 400, 107)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/conversation/blacklist", map[string]any{"client_id": "Jerry", "ttl": 60}, 400, 1)
	lcExpectError(t, h, m, "DELETE", "/1.1/rtm/conversation/blacklist?conv_id="+group, nil, 400, 1)

	// Kick: Jerry's stream ends.
	lcExpectError(t, h, m, "POST", "/1.1/rtm/client/kick", map[string]any{"client_id": "Jerry", "reason": strings.Repeat("x", 21)}, 400, 1)
	lc(t, h, m, "POST", "/1.1/rtm/client/kick", map[string]any{"client_id": "Jerry", "reason": "bye"}, 200, &empty)
	js.untilEOF()
	lcExpectError(t, h, m, "POST", "/1.1/rtm/client/kick", map[string]any{"reason": "bye"}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.1/rtm/client/kick", map[string]any{"client_id": "Jerry", "reason": "a\nb"}, 400, 1)

	// _Conversation through the storage API.
	var conv lcConv
	lc(t, h, m, "POST", "/1.1/classes/_Conversation", map[string]any{"name": "club", "m": []string{"Tom"}}, 200, &conv)
	if conv.ObjectID == "" || !isISO(conv.CreatedAt) {
		t.Fatalf("create: %+v", conv)
	}
	var up struct{ UpdatedAt, ObjectID string }
	lc(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"m": map[string]any{"__op": "AddUnique", "objects": []string{"Mary", "Jerry"}}}, 200, &up)
	if up.ObjectID != conv.ObjectID || !isISO(up.UpdatedAt) {
		t.Errorf("PUT m: %+v", up)
	}
	lc(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"m": map[string]any{"__op": "Remove", "objects": []string{"Tom"}}}, 200, &up)
	lc(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"name": "the club"}, 200, &up)
	var got lcConv
	lc(t, h, m, "GET", "/1.1/classes/_Conversation/"+conv.ObjectID, nil, 200, &got)
	if got.Name != "the club" || strings.Join(got.M, ",") != "Jerry,Mary" && strings.Join(got.M, ",") != "Mary,Jerry" {
		t.Errorf("after the updates: %+v", got)
	}
	var list struct{ Results []lcConv }
	lc(t, h, m, "GET", "/1.1/classes/_Conversation?where="+url.QueryEscape(`{"name":"the club"}`), nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ObjectID != conv.ObjectID {
		t.Errorf("query: %+v", list.Results)
	}
	lcExpectError(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"m": map[string]any{"__op": "AddUnique", "objects": []string{"Tom"}}, "name": "x"}, 501, 4308)
	lcExpectError(t, h, m, "GET", "/1.1/classes/_Conversation?count=1&limit=0", nil, 501, 4308)
	lcExpectError(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"m": map[string]any{"__op": "Delete"}}, 400, 1)
	lcExpectError(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, map[string]any{"m": map[string]any{"__op": "Increment", "objects": []string{"Tom"}}}, 501, 4308)
	lcExpectError(t, h, m, "PUT", "/1.1/classes/_Conversation/"+conv.ObjectID, "not an object", 400, 107)
	lcExpectError(t, h, m, "GET", "/1.1/classes/_Conversation/nosuchconversation", nil, 400, 4401)
	lc(t, h, m, "DELETE", "/1.1/classes/_Conversation/"+conv.ObjectID, nil, 200, &empty)
	lcExpectError(t, h, m, "GET", "/1.1/classes/_Conversation/"+conv.ObjectID, nil, 400, 4401)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.1/classes/_Conversation/"+conv.ObjectID, nil, 401, 119)
}

// §1.10: what the realtime SDKs call with the app key and the session
// token (st) of session/opened, which is Parley's session token.
func TestLCV11SDKEndpoints(t *testing.T) {
	h := start(t, withLCApp)
	tom, mary := h.login("Tom"), h.login("Mary")
	conv := tom.createConv("Jerry")
	withST := func(u *user) http.Header {
		hdr := lcAppKey(h)
		hdr.Set("X-LC-IM-Session-Token", u.Token)
		return hdr
	}

	var notes struct {
		HasMore       *bool
		Notifications []any
	}
	lc(t, h, withST(tom), "GET", "/1.1/rtm/notifications?start_ts=1700000000000&notification_type=permanent&client_id=Tom", nil, 200, &notes)
	if notes.HasMore == nil || *notes.HasMore || notes.Notifications == nil || len(notes.Notifications) != 0 {
		t.Errorf("notifications: %+v", notes)
	}
	lcExpectError(t, h, withST(tom), "GET", "/1.1/rtm/notifications?client_id=Mary", nil, 403, 4320)
	lcExpectError(t, h, withST(tom), "GET", "/1.1/rtm/notifications?start_ts=soon", nil, 400, 1)
	lcExpectError(t, h, lcAppKey(h), "GET", "/1.1/rtm/notifications?client_id=Tom", nil, 401, 4105)
	bad := lcAppKey(h)
	bad.Set("X-LC-IM-Session-Token", "not-a-token")
	lcExpectError(t, h, bad, "GET", "/1.1/rtm/notifications", nil, 401, 401)

	where := "/1.1/classes/_ConversationMemberInfo?where=" + url.QueryEscape(`{"cid":"`+conv.Id+`"}`)
	var infos struct {
		Results []struct{ ClientID, Role, ObjectID, Cid string }
	}
	lc(t, h, withST(tom), "GET", where+"&client_id=Tom", nil, 200, &infos)
	roles := map[string]string{}
	for _, i := range infos.Results {
		roles[i.ClientID] = i.Role
		if i.Cid != conv.Id || len(i.ObjectID) != 24 {
			t.Errorf("member info %+v", i)
		}
	}
	if len(infos.Results) != 2 || roles["Tom"] != "Owner" || roles["Jerry"] != "Member" {
		t.Errorf("member infos: %+v", infos.Results)
	}
	// The same objectId every time; the master key without a session too.
	first := infos.Results[0]
	lc(t, h, lcMasterKey(h), "GET", "/1.1/classes/_ConversationMemberInfo?where="+url.QueryEscape(`{"cid":"`+conv.Id+`","clientId":"`+first.ClientID+`"}`), nil, 200, &infos)
	if len(infos.Results) != 1 || infos.Results[0] != first {
		t.Errorf("one member's info: %+v, want %+v", infos.Results, first)
	}
	lc(t, h, withST(tom), "GET", "/1.1/classes/_ConversationMemberInfo?where="+url.QueryEscape(`{"cid":"`+conv.Id+`","role":"Owner"}`), nil, 200, &infos)
	if len(infos.Results) != 1 || infos.Results[0].ClientID != "Tom" {
		t.Errorf("owners: %+v", infos.Results)
	}
	lc(t, h, withST(tom), "GET", "/1.1/classes/_ConversationMemberInfo?where="+url.QueryEscape(`{"cid":"`+conv.Id+`","clientId":{"$in":["Jerry","Nobody"]}}`), nil, 200, &infos)
	if len(infos.Results) != 1 || infos.Results[0].ClientID != "Jerry" || infos.Results[0].Role != "Member" {
		t.Errorf("clientId $in: %+v", infos.Results)
	}
	lcExpectError(t, h, withST(tom), "GET", "/1.1/classes/_ConversationMemberInfo?where="+url.QueryEscape(`{"cid":"`+conv.Id+`","clientId":{"$ne":"x"}}`), nil, 400, 4310)
	lc(t, h, withST(tom), "GET", where+"&limit=1&skip=1", nil, 200, &infos)
	if len(infos.Results) != 1 {
		t.Errorf("skip/limit: %+v", infos.Results)
	}
	// Only members read them.
	lcExpectError(t, h, withST(mary), "GET", where, nil, 400, 4317)
	lcExpectError(t, h, withST(tom), "GET", "/1.1/classes/_ConversationMemberInfo", nil, 400, 4310)
	lcExpectError(t, h, withST(tom), "GET", "/1.1/classes/_ConversationMemberInfo?where="+url.QueryEscape(`{"cid":"x","other":1}`), nil, 400, 4310)
	lcExpectError(t, h, withST(tom), "GET", where+"&limit=0", nil, 400, 1)
	lcExpectError(t, h, lcAppKey(h), "GET", where, nil, 401, 4105)

	// Login signatures for _User sessions do not exist in Parley.
	lcExpectError(t, h, lcAppKey(h), "POST", "/1.1/rtm/sign", map[string]any{"session_token": "x"}, 501, 4308)
}

// Every /1.1 endpoint but the unread counts and the SDKs' own needs the
// master key: the app key answers 401 with code 119, before anything else.
func TestLCV11MasterOnly(t *testing.T) {
	h := start(t, withLCApp)
	app := lcAppKey(h)
	for _, c := range []struct{ method, path string }{
		{"GET", "/1.1/rtm/messages/history?convid=x"},
		{"GET", "/1.1/rtm/messages/logs?convid=x"},
		{"DELETE", "/1.1/rtm/messages/logs?convid=x&msgid=y"},
		{"PUT", "/1.1/rtm/messages/logs"},
		{"POST", "/1.1/rtm/patch/message"},
		{"POST", "/1.1/rtm/messages"},
		{"POST", "/1.1/rtm/broadcast"},
		{"DELETE", "/1.1/rtm/broadcast?mid=x"},
		{"GET", "/1.1/rtm/broadcast?conv_id=x"},
		{"POST", "/1.1/rtm/broadcast/subscriber"},
		{"POST", "/1.1/rtm/conversation/subscription"},
		{"DELETE", "/1.1/rtm/conversation/subscription?conv_id=x&client_id=y"},
		{"GET", "/1.1/rtm/conversation/subscription?client_id=y"},
		{"GET", "/1.1/rtm/conversation/subscribers/count?conv_id=x"},
		{"GET", "/1.1/rtm/conversation/subscribed?conv_id=x&client_id=y"},
		{"GET", "/1.1/rtm/conversation/subscribers?conv_id=x"},
		{"GET", "/1.1/rtm/transient_group/onlines?gid=x"},
		{"GET", "/1.1/rtm/transient_group/members?gid=x"},
		{"POST", "/1.1/rtm/online"},
		{"POST", "/1.1/rtm/conversation/blacklist"},
		{"DELETE", "/1.1/rtm/conversation/blacklist?conv_id=x&client_id=y"},
		{"POST", "/1.1/rtm/client/kick"},
		{"GET", "/1.1/classes/_Conversation"},
		{"POST", "/1.1/classes/_Conversation"},
		{"GET", "/1.1/classes/_Conversation/x"},
		{"PUT", "/1.1/classes/_Conversation/x"},
		{"DELETE", "/1.1/classes/_Conversation/x"},
	} {
		lcExpectError(t, h, app, c.method, c.path, map[string]any{}, 401, 119)
	}
	// Unknown /1.1 paths are LeanCloud's, not Parley's: 4308 after
	// authentication.
	lcExpectError(t, h, lcMasterKey(h), "GET", "/1.1/rtm/nonsense", nil, 501, 4308)
	lcExpectError(t, h, http.Header{}, "GET", "/1.1/rtm/nonsense", nil, 401, 401)
}
