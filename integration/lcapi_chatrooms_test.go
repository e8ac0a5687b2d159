package integration

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

func lcRoomPath(id string, rest ...string) string {
	p := "/1.2/rtm/chatrooms/" + id
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// §1.3: chat rooms under /1.2/rtm/chatrooms, and each prefix serving its
// own kind.
func TestLCChatRooms(t *testing.T) {
	h := start(t, withLCApp)
	m := lcMasterKey(h)

	var made struct {
		ObjectID  string `json:"objectId"`
		CreatedAt string `json:"createdAt"`
	}
	b := lc(t, h, m, "POST", "/1.2/rtm/chatrooms", map[string]any{"name": "My First Chatroom", "attr": map[string]any{"topic": "cats"}}, 200, &made)
	var shape map[string]any
	lc(t, h, m, "GET", lcRoomPath(made.ObjectID), nil, 200, &shape)
	if made.ObjectID == "" || !isISO(made.CreatedAt) || len(b) > 80 || shape["tr"] != true || shape["name"] != "My First Chatroom" {
		t.Fatalf("created %s, got %v", b, shape)
	}
	room := made.ObjectID
	var normal lcConv
	lc(t, h, m, "POST", "/1.2/rtm/conversations", map[string]any{"m": []string{"Tom"}, "name": "not a room"}, 200, &normal)

	var list struct{ Results []lcConv }
	lc(t, h, m, "GET", "/1.2/rtm/chatrooms", nil, 200, &list)
	if len(list.Results) != 1 || list.Results[0].ObjectID != room {
		t.Errorf("chat rooms %+v", list.Results)
	}
	lc(t, h, m, "GET", "/1.2/rtm/chatrooms?where="+url.QueryEscape(`{"attr.topic":"dogs"}`), nil, 200, &list)
	if len(list.Results) != 0 {
		t.Errorf("chat rooms about dogs %+v", list.Results)
	}
	lcExpectError(t, h, m, "GET", "/1.2/rtm/chatrooms?where=[1]", nil, 400, 4310)
	var up lcUpdated
	lc(t, h, m, "PUT", lcRoomPath(room), map[string]any{"name": "Lobby"}, 200, &up)
	if up.ObjectID != room || !isISO(up.UpdatedAt) {
		t.Errorf("update answered %+v", up)
	}
	lcExpectError(t, h, m, "POST", "/1.2/rtm/chatrooms", map[string]any{"name": "x", "sys": true}, 400, 1)
	lcExpectError(t, h, m, "POST", "/1.2/rtm/chatrooms", map[string]any{"m": []string{"Tom"}}, 400, 1)

	// Each prefix serves its own kind.
	lcExpectError(t, h, m, "GET", lcConvPath(room, "members"), nil, 400, 4314)
	lcExpectError(t, h, m, "POST", lcConvPath(room, "messages"), map[string]any{"from_client": "Tom", "message": "x"}, 400, 4314)
	lcExpectError(t, h, m, "GET", lcRoomPath(normal.ObjectID, "members"), nil, 400, 4316)
	lcExpectError(t, h, m, "DELETE", lcRoomPath(normal.ObjectID), nil, 400, 4316)
	lcExpectError(t, h, m, "GET", "/1.2/rtm/service-conversations/"+room+"/subscribers", nil, 400, 4313)
	lcExpectError(t, h, m, "GET", lcRoomPath("nosuchroom", "members"), nil, 400, 4401)

	// Online members and their count: the seated clients with a stream.
	alice, bob := h.login("Alice"), h.login("Bob")
	alice.join(room)
	bob.join(room)
	as, bs := alice.open(), bob.open()
	defer as.close()
	defer bs.close()
	var online lcResult[[]string]
	lc(t, h, m, "GET", lcRoomPath(room, "members"), nil, 200, &online)
	if len(online.Result) != 2 || online.Result[0] != "Alice" || online.Result[1] != "Bob" {
		t.Errorf("online members %v", online.Result)
	}
	var count lcResult[int]
	lc(t, h, m, "GET", lcRoomPath(room, "members", "online-count"), nil, 200, &count)
	if count.Result != 2 {
		t.Errorf("online count %d", count.Result)
	}

	// Messages with a priority; history; modify, recall, delete.
	var sent lcSent
	lc(t, h, m, "POST", lcRoomPath(room, "messages"), map[string]any{"from_client": "Host", "message": `{"_lctype":-1,"_lctext":"welcome"}`, "priority": "high"}, 200, &sent)
	if got := as.expectText("welcome"); got.Message.Priority == nil || *got.Message.Priority != client.MessagePriorityHigh {
		t.Errorf("Alice got %+v", got.Message)
	}
	bs.expectText("welcome")
	var recs []lcRecord
	lc(t, h, m, "GET", lcRoomPath(room, "messages"), nil, 200, &recs)
	if len(recs) != 1 || recs[0].MsgID != sent.MsgID || recs[0].From != "Host" {
		t.Errorf("history %+v", recs)
	}
	lc(t, h, m, "PUT", lcRoomPath(room, "messages", sent.MsgID), map[string]any{"from_client": "Host", "message": `{"_lctype":-1,"_lctext":"Welcome!"}`, "timestamp": sent.Timestamp}, 200, nil)
	as.expect("messageupdate")
	lc(t, h, m, "PUT", lcRoomPath(room, "messages", sent.MsgID, "recall"), map[string]any{"from_client": "Host", "timestamp": sent.Timestamp}, 200, nil)
	as.expect("messagerecall")
	lc(t, h, m, "DELETE", lcRoomPath(room, "messages", sent.MsgID)+"?from_client=Host&timestamp="+strconv.FormatInt(sent.Timestamp, 10), nil, 200, nil)
	lc(t, h, m, "GET", lcRoomPath(room, "messages"), nil, 200, &recs)
	if len(recs) != 0 {
		t.Errorf("history after delete %+v", recs)
	}

	// Silence, roles and blacklists work on the seated clients.
	lc(t, h, m, "POST", lcRoomPath(room, "temporary-silenceds"), map[string]any{"client_id": "Alice", "ttl": 60}, 200, nil)
	expectProblem(t, "a silenced client speaks in the room", http.StatusForbidden, client.MEMBERSILENCED)(
		h.c.SendMessageWithResponse(ctx(t), room, textMsg("hey"), alice.auth()))
	lc(t, h, m, "DELETE", lcRoomPath(room, "temporary-silenceds")+"?client_id=Alice", nil, 200, nil)
	alice.sendText(room, "hey")
	lc(t, h, m, "POST", lcRoomPath(room, "permanent-silenceds"), map[string]any{"client_ids": []string{"Bob"}}, 200, nil)
	var page lcClientPage
	lc(t, h, m, "GET", lcRoomPath(room, "permanent-silenceds"), nil, 200, &page)
	if len(page.ClientIDs) != 1 || page.ClientIDs[0] != "Bob" {
		t.Errorf("silenced %+v", page)
	}
	lc(t, h, m, "POST", lcRoomPath(room, "member-infos"), map[string]any{"clientId": "Alice", "role": "Manager"}, 200, &up)
	var infos struct{ Results []lcMemberInfo }
	lc(t, h, m, "GET", lcRoomPath(room, "member-infos")+"?role=Manager", nil, 200, &infos)
	if len(infos.Results) != 1 || infos.Results[0].ObjectID != up.ObjectID {
		t.Errorf("room managers %+v", infos.Results)
	}
	lc(t, h, m, "POST", lcRoomPath(room, "blacklists"), map[string]any{"client_ids": []string{"Bob"}}, 200, nil)
	lc(t, h, m, "GET", lcRoomPath(room, "members", "online-count"), nil, 200, &count)
	if count.Result != 1 {
		t.Errorf("online count after blocking Bob: %d", count.Result)
	}
	expectProblem(t, "a blocked client joins the room", http.StatusForbidden, client.CLIENTBLOCKED)(
		h.c.JoinConversationWithResponse(ctx(t), room, client.Signed{}, bob.auth()))
	lc(t, h, m, "GET", lcRoomPath(room, "blacklists"), nil, 200, &page)
	if len(page.ClientIDs) != 1 || page.ClientIDs[0] != "Bob" {
		t.Errorf("room blacklist %+v", page)
	}

	// Mutes are not a chat room's.
	lcExpectError(t, h, m, "POST", lcRoomPath(room, "mutes"), map[string]any{"client_ids": []string{"Alice"}}, 501, 4308)
	app := lcAppKey(h)
	for _, c := range []struct{ method, path string }{
		{"POST", "/1.2/rtm/chatrooms"}, {"GET", "/1.2/rtm/chatrooms"}, {"PUT", lcRoomPath(room)}, {"DELETE", lcRoomPath(room)},
		{"GET", lcRoomPath(room, "members")}, {"GET", lcRoomPath(room, "members", "online-count")},
		{"POST", lcRoomPath(room, "messages")}, {"GET", lcRoomPath(room, "messages")},
		{"POST", lcRoomPath(room, "blacklists")}, {"GET", lcRoomPath(room, "member-infos")},
	} {
		lcExpectError(t, h, app, c.method, c.path, nil, 401, 119)
	}

	var out map[string]any
	lc(t, h, m, "DELETE", lcRoomPath(room), nil, 200, &out)
	if len(out) != 0 {
		t.Errorf("delete answered %v", out)
	}
	lcExpectError(t, h, m, "GET", lcRoomPath(room, "members", "online-count"), nil, 400, 4401)
	expectProblem(t, "send to the deleted room", http.StatusNotFound, client.CONVERSATIONNOTFOUND)(
		h.c.SendMessageWithResponse(ctx(t), room, textMsg("anyone?"), alice.auth()))
}
