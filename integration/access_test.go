package integration

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-im/parley/openapi/client"
)

func findConv(list []client.Conversation, id string) *client.Conversation {
	for i := range list {
		if list[i].Id == id {
			return &list[i]
		}
	}
	return nil
}

// A caller sees message content, read positions, muted members and unread
// counts only of conversations it may read, and member lists only where it
// is a member: Eva, a member of neither, learns nothing of what Ann and Ben
// say, nor that they talk, through the query or a get; the master key sees
// everything (security issue, item 1).
func TestNonMembersSeeNoContentNorMembers(t *testing.T) {
	h := start(t)
	ann, ben, eva := h.login("Ann"), h.login("Ben"), h.login("Eva")
	pair := ann.createConv("Ben")
	secret := ann.sendText(pair.Id, "our secret")
	if r, err := h.c.MarkReadWithResponse(ctx(t), pair.Id, client.ReadRequest{}, ben.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("Ben reads: %v", err)
	}
	if r, err := h.c.MuteConversationWithResponse(ctx(t), pair.Id, ben.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("Ben mutes: %v", err)
	}

	leaks := func(what string, c *client.Conversation) {
		t.Helper()
		if c == nil {
			return
		}
		if c.LastMessage != nil || c.Members != nil || c.MutedMembers != nil || c.LastReadAt != nil ||
			c.LastDeliveredAt != nil || c.UnreadMessagesCount != nil || c.Muted {
			t.Errorf("%s: a non-member sees %+v", what, *c)
		}
	}
	with := true
	all := h.query(eva, client.QueryConversationsParams{Where: ptr("{}"), Limit: ptr(int64(1000)), WithLastMessage: &with})
	if findConv(all, pair.Id) == nil {
		t.Fatalf("Eva's query of everything does not list the conversation at all: %+v", all)
	}
	leaks("where={} withLastMessage", findConv(all, pair.Id))
	compact := h.query(eva, client.QueryConversationsParams{Where: ptr("{}"), Compact: &with, WithLastMessage: &with})
	leaks("compact withLastMessage", findConv(compact, pair.Id))
	for _, where := range []string{`{"m":{"$all":["Ann","Ben"]}}`, `{"m":"Ann"}`, `{"members":["Ann","Ben"]}`, `{"m":{"$in":["Ben"]}}`, `{"m":{"$regex":"^A"}}`} {
		if got := h.query(eva, client.QueryConversationsParams{Where: &where, WithLastMessage: &with}); len(got) != 0 {
			t.Errorf("Eva's query %s finds Ann and Ben's conversation: %+v", where, got)
		}
	}
	g, err := h.c.GetConversationWithResponse(ctx(t), pair.Id, eva.auth())
	if err != nil || g.StatusCode() != http.StatusOK {
		t.Fatalf("Eva gets the conversation: %v %d", err, g.StatusCode())
	}
	leaks("get", g.JSON200)

	// Members and the master key see it all.
	mine := h.query(ann, client.QueryConversationsParams{Where: ptr(`{"m":{"$all":["Ann","Ben"]}}`), WithLastMessage: &with})
	if c := findConv(mine, pair.Id); c == nil || c.LastMessage == nil || c.LastMessage.Id != secret.Id || len(deref(c.Members)) != 2 ||
		c.LastReadAt == nil || len(deref(c.MutedMembers)) != 1 {
		t.Errorf("Ann's own query: %+v", mine)
	}
	master := h.query(nil, client.QueryConversationsParams{Where: ptr(`{"m":{"$all":["Ann","Ben"]}}`), WithLastMessage: &with})
	if c := findConv(master, pair.Id); c == nil || c.LastMessage == nil || len(deref(c.Members)) != 2 {
		t.Errorf("the master key's query: %+v", master)
	}

	// A chat room's messages are for seated sessions: Eva sees its last
	// message only once she joined.
	room := h.createAs(t, ann, client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Name: ptr("Lobby")})
	ann.sendText(room.Id, "welcome")
	rooms := func() *client.Conversation {
		return findConv(h.query(eva, client.QueryConversationsParams{Where: ptr(`{"tr":true}`), WithLastMessage: &with}), room.Id)
	}
	if c := rooms(); c == nil || c.LastMessage != nil {
		t.Errorf("Eva, not seated, sees the room's last message: %+v", c)
	}
	if r, err := h.c.JoinConversationWithBodyWithResponse(ctx(t), room.Id, "", nil, eva.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("Eva joins the room: %v", err)
	}
	if c := rooms(); c == nil || c.LastMessage == nil {
		t.Errorf("Eva, seated, does not see the room's last message: %+v", c)
	}
}

func (h *harness) createAs(t *testing.T, u *user, req client.CreateConversationRequest) client.Conversation {
	t.Helper()
	r, err := h.c.CreateConversationWithResponse(ctx(t), req, u.auth())
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Fatalf("%s creates %+v: %v %d %s", u.ClientId, req, err, deref(r).StatusCode(), deref(r).Body)
	}
	return *r.JSON201
}

// Probing another subscriber's private message id in a system conversation
// answers as for an unknown id (security issue, item 9).
func TestPrivateMessageIDsAreUnknownToOtherSubscribers(t *testing.T) {
	h := start(t)
	jerry, mary := h.login("Jerry"), h.login("Mary")
	sys := h.createWithMaster(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Name: ptr("Desk")})
	for _, u := range []*user{jerry, mary} {
		if r, err := h.c.JoinConversationWithBodyWithResponse(ctx(t), sys.Id, "", nil, u.auth()); err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("%s subscribes: %v", u.ClientId, err)
		}
	}
	private := jerry.sendText(sys.Id, "my complaint")
	unknown := "zzzzzzzzzzz"
	for _, id := range []string{private.Id, unknown} {
		expectProblem(t, "Mary pages back from "+id, http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.ListMessagesWithResponse(ctx(t), sys.Id, &client.ListMessagesParams{Before: &id}, mary.auth()))
		expectProblem(t, "Mary pages forward from "+id, http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.ListMessagesWithResponse(ctx(t), sys.Id, &client.ListMessagesParams{After: &id}, mary.auth()))
		expectProblem(t, "Mary marks read up to "+id, http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.MarkReadWithResponse(ctx(t), sys.Id, client.ReadRequest{MessageId: &id}, mary.auth()))
		expectProblem(t, "Mary edits "+id, http.StatusNotFound, client.MESSAGENOTFOUND)(
			h.c.EditMessageWithResponse(ctx(t), sys.Id, id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("x")}, mary.auth()))
	}
	// Jerry and the backend page from it as from any message.
	jerry.history(sys.Id, client.ListMessagesParams{Before: &private.Id})
	if r, err := h.c.ListMessagesWithResponse(ctx(t), sys.Id, &client.ListMessagesParams{After: &private.Id}, h.master()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("the backend pages from the private message: %v %d", err, deref(r).StatusCode())
	}
}

// A client cannot make itself a member of a normal conversation that no
// member and no backend let it into: in jwt mode joining needs the
// backend's join signature (as in signature mode), and a unique
// conversation, defined by its members, is never joined by a third party,
// in any mode (security issue, item 2). Open mode keeps open groups.
func TestJoiningNeedsALetIn(t *testing.T) {
	h := start(t, authMode("jwt"))
	key := h.srv.MasterKey
	jwtLogin := func(id string) *user {
		tok := mintJWT(t, key, jwt.MapClaims{"sub": id, "exp": time.Now().Add(time.Hour).Unix()})
		r, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: id, Token: &tok})
		if err != nil || r.StatusCode() != http.StatusCreated {
			t.Fatalf("login %s: %v %d %s", id, err, deref(r).StatusCode(), deref(r).Body)
		}
		return &user{h: h, LoginResult: *r.JSON201}
	}
	ann, eva := jwtLogin("Ann"), jwtLogin("Eva")
	pair := ann.createConv("Ben")
	join := func(u *user, conv string, sig client.Signed) (*client.JoinConversationResponse, error) {
		return h.c.JoinConversationWithResponse(ctx(t), conv, sig, u.auth())
	}
	expectProblem(t, "jwt mode: Eva joins Ann and Ben's chat", http.StatusUnauthorized, client.SIGNATUREINVALID)(join(eva, pair.Id, client.Signed{}))
	expectProblem(t, "jwt mode: Eva reads their history", http.StatusForbidden, client.NOTAMEMBER)(
		h.c.ListMessagesWithResponse(ctx(t), pair.Id, &client.ListMessagesParams{}, eva.auth()))
	ms := time.Now().UnixMilli()
	sig := client.Signed{Signature: ptr(leanSign(key, "app1", "Eva", pair.Id, "Eva", strconv.FormatInt(ms, 10), "j1", "invite")), Timestamp: &ms, Nonce: ptr("j1")}
	if r, err := join(eva, pair.Id, sig); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("jwt mode: a join the backend signed: %v %d %s", err, deref(r).StatusCode(), deref(r).Body)
	}
	expectProblem(t, "jwt mode: the join signature again", http.StatusUnauthorized, client.SIGNATUREINVALID)(join(eva, ann.createConv("Mary").Id, sig))
	if r, err := join(ann, pair.Id, client.Signed{}); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("jwt mode: a member joins again (no change): %v %d %s", err, deref(r).StatusCode(), deref(r).Body)
	}

	open := start(t)
	tom, spike := open.login("Tom"), open.login("Spike")
	r, err := open.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Jerry"}, Unique: ptr(true)}, tom.auth())
	if err != nil || r.StatusCode() != http.StatusCreated {
		t.Fatalf("unique conversation: %v", err)
	}
	expectProblem(t, "open mode: Spike joins Tom and Jerry's unique chat", http.StatusForbidden, client.FORBIDDEN)(
		open.c.JoinConversationWithBodyWithResponse(ctx(t), r.JSON201.Id, "", nil, spike.auth()))
	group := tom.createConv("Jerry", "Mary")
	if r, err := open.c.JoinConversationWithBodyWithResponse(ctx(t), group.Id, "", nil, spike.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("open mode: Spike joins an open group: %v %d", err, deref(r).StatusCode())
	}
}

func mintJWT(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
