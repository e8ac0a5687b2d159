package integration

import (
	"net/http"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

func (h *harness) roles(u *user, convID string) map[string]string {
	h.t.Helper()
	r, err := h.c.ListMembersWithResponse(ctx(h.t), convID, u.auth())
	if err != nil || r.JSON200 == nil {
		h.t.Fatalf("list members: %v %s", err, r.Body)
	}
	out := map[string]string{}
	for _, m := range deref(r.JSON200.Members) {
		out[m.ClientId] = string(m.Role)
	}
	return out
}

func idList(s ...string) *[]string { return &s }

// Roles: the creator owns the group; the owner makes managers and may hand
// ownership over; removing, silencing and blocking need a role above the
// target's; a silenced member reads but cannot send until lifted; a blocked
// client is removed and kept out until unblocked.
func TestRolesSilenceAndBlock(t *testing.T) {
	h := start(t)
	tom, jerry, mary, spike := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("Spike")
	conv := tom.createConv("Jerry", "Mary", "Spike")
	if got := h.roles(mary, conv.Id); got["Tom"] != "owner" || got["Jerry"] != "member" || got["Mary"] != "member" {
		t.Fatalf("roles %v, want Tom the owner", got)
	}
	forbidden := func(what string, r any, err error) {
		t.Helper()
		expectProblem(t, what, http.StatusForbidden, client.FORBIDDEN)(r, err)
	}

	// A member may not silence, block, or set roles; nobody but the master
	// key removes the owner.
	r1, err := h.c.SilenceMembersWithResponse(ctx(t), conv.Id, client.SilenceRequest{ClientIds: idList("Mary")}, jerry.auth())
	forbidden("a member silences a member", r1, err)
	r2, err := h.c.SetMemberRoleWithResponse(ctx(t), conv.Id, "Mary", client.SetRoleInputBody{Role: "manager"}, jerry.auth())
	forbidden("a member sets a role", r2, err)
	r3, err := h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: idList("Tom")}, jerry.auth())
	forbidden("a member removes the owner", r3, err)

	// Tom makes Jerry a manager: every member hears of it.
	maryStream := mary.open()
	if r, err := h.c.SetMemberRoleWithResponse(ctx(t), conv.Id, "Jerry", client.SetRoleInputBody{Role: "manager"}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("set role: %v %s", err, r.Body)
	}
	maryStream.expect("memberinfoupdated")
	// A manager may not act on the owner, nor a member on a manager.
	r4, err := h.c.SilenceMembersWithResponse(ctx(t), conv.Id, client.SilenceRequest{ClientIds: idList("Tom")}, jerry.auth())
	forbidden("a manager silences the owner", r4, err)
	r5, err := h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: idList("Jerry")}, mary.auth())
	forbidden("a member removes a manager", r5, err)

	// Jerry silences Mary: she reads but cannot send, until he lifts it.
	ttl := int64(3600)
	if r, err := h.c.SilenceMembersWithResponse(ctx(t), conv.Id, client.SilenceRequest{ClientIds: idList("Mary"), Ttl: &ttl}, jerry.auth()); err != nil || r.JSON200 == nil || len(deref(r.JSON200.ClientIds)) != 1 {
		t.Fatalf("silence: %v %s", err, r.Body)
	}
	maryStream.expect("muted")
	rs, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("can I talk?"), mary.auth())
	expectProblem(t, "a silenced member sends", http.StatusForbidden, client.MEMBERSILENCED)(rs, err)
	mary.history(conv.Id, client.ListMessagesParams{})
	if got := h.roles(tom, conv.Id); got["Mary"] != "member" {
		t.Errorf("roles after silence %v", got)
	}
	if r, err := h.c.UnsilenceMembersWithResponse(ctx(t), conv.Id, client.ClientsRequest{ClientIds: idList("Mary")}, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("unsilence: %v %s", err, r.Body)
	}
	mary.sendText(conv.Id, "thanks")

	// Jerry blocks Spike: removed, and kept out until unblocked.
	if r, err := h.c.BlockClientsWithResponse(ctx(t), conv.Id, client.ClientsRequest{ClientIds: idList("Spike")}, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("block: %v %s", err, r.Body)
	}
	if got := h.roles(tom, conv.Id); got["Spike"] != "" {
		t.Errorf("Spike is still a member: %v", got)
	}
	ra, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: idList("Spike")}, tom.auth())
	expectProblem(t, "adding a blocked client", http.StatusForbidden, client.CLIENTBLOCKED)(ra, err)
	rj, err := h.c.JoinConversationWithResponse(ctx(t), conv.Id, client.Signed{}, spike.auth())
	expectProblem(t, "a blocked client joins", http.StatusForbidden, client.CLIENTBLOCKED)(rj, err)
	if r, err := h.c.UnblockClientsWithResponse(ctx(t), conv.Id, client.ClientsRequest{ClientIds: idList("Spike")}, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("unblock: %v %s", err, r.Body)
	}
	if r, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: idList("Spike")}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("adding Spike after unblocking: %v %s", err, r.Body)
	}

	// Tom hands ownership to Jerry and becomes a manager.
	if r, err := h.c.SetMemberRoleWithResponse(ctx(t), conv.Id, "Jerry", client.SetRoleInputBody{Role: "owner"}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("hand over: %v %s", err, r.Body)
	}
	if got := h.roles(mary, conv.Id); got["Jerry"] != "owner" || got["Tom"] != "manager" {
		t.Errorf("after the handover %v", got)
	}
}

// In a chat room the creator owns the room and the seated clients are its
// members: a silenced one reads but cannot send, a blocked one loses its
// seat and cannot join again.
func TestRolesInAChatRoom(t *testing.T) {
	h := start(t)
	tom, jerry, spike := h.login("Tom"), h.login("Jerry"), h.login("Spike")
	tomStream := tom.open()
	defer tomStream.close()
	room := tom.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Name: ptr("lobby")})
	jerry.open()
	spike.open()
	jerry.join(room.Id)
	spike.join(room.Id)
	if got := h.roles(jerry, room.Id); got["Tom"] != "owner" || got["Jerry"] != "member" || got["Spike"] != "member" {
		t.Fatalf("room roles %v", got)
	}
	if r, err := h.c.SilenceMembersWithResponse(ctx(t), room.Id, client.SilenceRequest{ClientIds: idList("Jerry")}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("silence in a room: %v %s", err, r.Body)
	}
	rs, err := h.c.SendMessageWithResponse(ctx(t), room.Id, textMsg("hello?"), jerry.auth())
	expectProblem(t, "a silenced client sends to a room", http.StatusForbidden, client.MEMBERSILENCED)(rs, err)
	if r, err := h.c.BlockClientsWithResponse(ctx(t), room.Id, client.ClientsRequest{ClientIds: idList("Spike")}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("block in a room: %v %s", err, r.Body)
	}
	if got := h.roles(tom, room.Id); got["Spike"] != "" {
		t.Errorf("Spike is still seated: %v", got)
	}
	rj, err := h.c.JoinConversationWithBodyWithResponse(ctx(t), room.Id, "", nil, spike.auth())
	expectProblem(t, "a blocked client joins the room", http.StatusForbidden, client.CLIENTBLOCKED)(rj, err)
}
