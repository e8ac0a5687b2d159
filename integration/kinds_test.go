package integration

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// Conversation kinds and their rules (README, "Conversation kinds"):
// attributes and mute, temporary and system conversations. Chat rooms are in
// rooms_test.go, queries in query_test.go.

// fakeClock is the server's injectable clock (server.Config.Now): it stands
// still until a test moves it, so that rules measured in minutes or days are
// crossed in no time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func withClock(c *fakeClock) func(*server.Config) {
	return func(cfg *server.Config) { cfg.Now = c.Now }
}

// okStatus fails the test unless a generated call answered status.
func okStatus(t *testing.T, what string, status int, r any, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	hr, body := rawOf(r)
	if hr.StatusCode != status {
		t.Fatalf("%s: %d %s, want %d", what, hr.StatusCode, body, status)
	}
}

// infoUpdatedData is the data of an infoupdated event.
type infoUpdatedData struct {
	ConversationID string         `json:"conversationId"`
	Attributes     map[string]any `json:"attributes"`
	Name           string         `json:"name"`
	UpdatedBy      string         `json:"updatedBy"`
}

// create creates a conversation as this session and expects 201.
func (u *user) create(req client.CreateConversationRequest) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.CreateConversationWithResponse(ctx(u.h.t), req, u.auth())
	okStatus(u.h.t, u.ClientId+" creates a conversation", http.StatusCreated, r, err)
	return *r.JSON201
}

// createWithMaster creates a conversation with the master key, expecting 201.
func (h *harness) createWithMaster(req client.CreateConversationRequest) client.Conversation {
	h.t.Helper()
	r, err := h.c.CreateConversationWithResponse(ctx(h.t), req, h.master())
	okStatus(h.t, "the master key creates a conversation", http.StatusCreated, r, err)
	return *r.JSON201
}

func kind(k client.CreateConversationRequestKind) *client.CreateConversationRequestKind { return &k }

func (u *user) join(id string) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.JoinConversationWithBodyWithResponse(ctx(u.h.t), id, "", nil, u.auth()) // no body: only signature mode needs one
	okStatus(u.h.t, u.ClientId+" joins "+id, http.StatusOK, r, err)
	return *r.JSON200
}

func (u *user) quit(id string) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.QuitConversationWithResponse(ctx(u.h.t), id, u.auth())
	okStatus(u.h.t, u.ClientId+" quits "+id, http.StatusOK, r, err)
	return *r.JSON200
}

func (u *user) get(id string) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.GetConversationWithResponse(ctx(u.h.t), id, u.auth())
	okStatus(u.h.t, u.ClientId+" gets "+id, http.StatusOK, r, err)
	return *r.JSON200
}

func (u *user) count(id string) int64 {
	u.h.t.Helper()
	r, err := u.h.c.CountMembersWithResponse(ctx(u.h.t), id, u.auth())
	okStatus(u.h.t, u.ClientId+" counts the members of "+id, http.StatusOK, r, err)
	return r.JSON200.Count
}

// masterHistory reads a conversation's history with the master key.
func (h *harness) masterHistory(id string) []client.Message {
	h.t.Helper()
	r, err := h.c.ListMessagesWithResponse(ctx(h.t), id, &client.ListMessagesParams{Limit: ptr(int64(1000))}, h.master())
	okStatus(h.t, "master-key history of "+id, http.StatusOK, r, err)
	return *r.JSON200.Messages
}

func texts(ms []client.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, deref(m.Text))
	}
	return out
}

// marker sends a message from a helper to a conversation with the given
// streams' clients and checks that it is the next event of each: whatever
// the streams were not supposed to get, they provably did not get.
type marker struct {
	t       *testing.T
	from    *user
	conv    string
	members []string
	n       int
}

func newMarker(t *testing.T, h *harness, members ...string) *marker {
	t.Helper()
	from := h.login("Marker")
	return &marker{t: t, from: from, conv: from.createConv(members...).Id, members: members}
}

// settle takes the events of the marker conversation's creation from
// streams opened before it was created: invited, then membersjoined
// listing the invited members, as when they are added.
func (m *marker) settle(streams ...*stream) {
	m.t.Helper()
	for _, s := range streams {
		if d := decode[invitedData](m.t, s.expect("invited")); d.ConversationID != m.conv {
			m.t.Fatalf("%s: invited to %s, want the marker conversation", s.name, d.ConversationID)
		}
		if d := decode[membersJoinedData](m.t, s.expect("membersjoined")); d.ConversationID != m.conv ||
			!sameSet(d.Members, m.members) || d.InvitedBy != m.from.ClientId {
			m.t.Fatalf("%s: membersjoined %+v, want the marker conversation's members %v", s.name, d, m.members)
		}
	}
}

// check sends the next marker and expects it as the next event of streams.
func (m *marker) check(streams ...*stream) {
	m.t.Helper()
	m.n++
	text := fmt.Sprintf("marker %d of %s", m.n, m.conv)
	m.from.sendText(m.conv, text)
	for _, s := range streams {
		s.expectText(text)
	}
}

// PATCH merges attributes (null removes), renames, tells every member with
// infoupdated, and answers the merged conversation; non-members may not.
func TestUpdateConversationInfo(t *testing.T) {
	h := start(t)
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	ts, js, ms := tom.open(), jerry.open(), mary.open()
	mk := newMarker(t, h, "Tom", "Jerry", "Mary")
	mk.settle(ts, js, ms)

	conv := tom.create(client.CreateConversationRequest{
		Members: &[]string{"Jerry"}, Name: ptr("Tom & Jerry"),
		Attributes: &map[string]any{"topic": "cheese", "level": 1, "old": "bye", "nested": map[string]any{"k": "v"}},
	})
	js.expect("invited")
	js.expectJoined(conv.Id, "Tom", "Jerry")
	ts.expectJoined(conv.Id, "Tom", "Jerry")

	r, err := h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{
		Name:       ptr("Cat & Mouse"),
		Attributes: &map[string]any{"topic": "mice", "old": nil, "new": []any{"a", "b"}, "nested": map[string]any{"x": 1}},
	}, jerry.auth())
	okStatus(t, "Jerry patches", http.StatusOK, r, err)
	want := map[string]any{"topic": "mice", "level": 1, "new": []any{"a", "b"}, "nested": map[string]any{"x": 1}}
	if got := r.JSON200; got.Name != "Cat & Mouse" || !sameJSON(t, got.Attributes, want) {
		t.Errorf("after the patch: name %q attributes %v, want %v", got.Name, got.Attributes, want)
	}
	if r.JSON200.UpdatedAt < conv.UpdatedAt {
		t.Errorf("updatedAt went back: %d < %d", r.JSON200.UpdatedAt, conv.UpdatedAt)
	}
	wantEv := infoUpdatedData{ConversationID: conv.Id, Attributes: want, Name: "Cat & Mouse", UpdatedBy: "Jerry"}
	// Every member's sessions are told, the updater's included.
	for _, s := range []*stream{ts, js} {
		if d := decode[infoUpdatedData](t, s.expect("infoupdated")); !sameJSON(t, d, wantEv) {
			t.Errorf("%s: infoupdated %+v, want %+v", s.name, d, wantEv)
		}
	}
	if got := tom.get(conv.Id); got.Name != "Cat & Mouse" || !sameJSON(t, got.Attributes, want) {
		t.Errorf("GET after the patch: %+v", got)
	}

	// Only the name: the attributes stay.
	r, err = h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Name: ptr("T&J")}, tom.auth())
	okStatus(t, "Tom renames", http.StatusOK, r, err)
	if !sameJSON(t, r.JSON200.Attributes, want) || r.JSON200.Name != "T&J" {
		t.Errorf("rename only: %+v", r.JSON200)
	}
	for _, s := range []*stream{ts, js} {
		if d := decode[infoUpdatedData](t, s.expect("infoupdated")); d.Name != "T&J" || d.UpdatedBy != "Tom" {
			t.Errorf("%s: infoupdated %+v", s.name, d)
		}
	}

	// A non-member may not; the master key may.
	expectProblem(t, "Mary patches", http.StatusForbidden, client.NOTAMEMBER)(
		h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Name: ptr("mine")}, mary.auth()))
	expectProblem(t, "an attribute key with a dot", http.StatusBadRequest, client.INVALIDREQUEST)(
		h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Attributes: &map[string]any{"a.b": 1}}, tom.auth()))
	expectProblem(t, "patch an unknown conversation", http.StatusNotFound, client.CONVERSATIONNOTFOUND)(
		h.c.UpdateConversationWithResponse(ctx(t), "nope", client.UpdateConversationRequest{Name: ptr("x")}, tom.auth()))
	r, err = h.c.UpdateConversationWithResponse(ctx(t), conv.Id, client.UpdateConversationRequest{Attributes: &map[string]any{"level": nil}}, h.master())
	okStatus(t, "the master key patches", http.StatusOK, r, err)
	delete(want, "level")
	if !sameJSON(t, r.JSON200.Attributes, want) {
		t.Errorf("after removing level: %v", r.JSON200.Attributes)
	}
	for _, s := range []*stream{ts, js} {
		if d := decode[infoUpdatedData](t, s.expect("infoupdated")); !sameJSON(t, d.Attributes, want) {
			t.Errorf("%s: infoupdated %+v", s.name, d)
		}
	}
	// Mary, no member, heard of none of it.
	mk.check(ts, js, ms)
}

// mute and unmute keep mutedMembers and the caller's muted; they need
// membership and are per client.
func TestMuteAndUnmute(t *testing.T) {
	h := start(t)
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	conv := tom.createConv("Jerry")

	mute := func(u *user, on bool) client.Conversation {
		t.Helper()
		if on {
			r, err := h.c.MuteConversationWithResponse(ctx(t), conv.Id, u.auth())
			okStatus(t, u.ClientId+" mutes", http.StatusOK, r, err)
			return *r.JSON200
		}
		r, err := h.c.UnmuteConversationWithResponse(ctx(t), conv.Id, u.auth())
		okStatus(t, u.ClientId+" unmutes", http.StatusOK, r, err)
		return *r.JSON200
	}
	c := mute(jerry, true)
	if !c.Muted || !sameSet(deref(c.MutedMembers), []string{"Jerry"}) {
		t.Errorf("after Jerry mutes: muted %v mutedMembers %v", c.Muted, deref(c.MutedMembers))
	}
	if c := tom.get(conv.Id); c.Muted || !sameSet(deref(c.MutedMembers), []string{"Jerry"}) {
		t.Errorf("Tom sees muted %v mutedMembers %v", c.Muted, deref(c.MutedMembers))
	}
	c = mute(jerry, true) // again: no change
	if !c.Muted || !sameSet(deref(c.MutedMembers), []string{"Jerry"}) {
		t.Errorf("muting twice: %v %v", c.Muted, deref(c.MutedMembers))
	}
	c = mute(tom, true)
	if !c.Muted || !sameSet(deref(c.MutedMembers), []string{"Tom", "Jerry"}) {
		t.Errorf("after Tom mutes: %v %v", c.Muted, deref(c.MutedMembers))
	}
	c = mute(jerry, false)
	if c.Muted || !sameSet(deref(c.MutedMembers), []string{"Tom"}) {
		t.Errorf("after Jerry unmutes: %v %v", c.Muted, deref(c.MutedMembers))
	}
	// The caller's muted also shows in queries.
	q := h.query(jerry, client.QueryConversationsParams{Where: ptr(`{"id":"` + conv.Id + `"}`)})
	if len(q) != 1 || q[0].Muted || !sameSet(deref(q[0].MutedMembers), []string{"Tom"}) {
		t.Errorf("query as Jerry: %+v", q)
	}
	q = h.query(tom, client.QueryConversationsParams{Where: ptr(`{"id":"` + conv.Id + `"}`)})
	if len(q) != 1 || !q[0].Muted {
		t.Errorf("query as Tom: %+v", q)
	}

	expectProblem(t, "Mary mutes", http.StatusForbidden, client.NOTAMEMBER)(h.c.MuteConversationWithResponse(ctx(t), conv.Id, mary.auth()))
	expectProblem(t, "Mary unmutes", http.StatusForbidden, client.NOTAMEMBER)(h.c.UnmuteConversationWithResponse(ctx(t), conv.Id, mary.auth()))
	expectProblem(t, "mute an unknown conversation", http.StatusNotFound, client.CONVERSATIONNOTFOUND)(h.c.MuteConversationWithResponse(ctx(t), "nope", tom.auth()))
	expectProblem(t, "mute with the master key", http.StatusForbidden, client.FORBIDDEN)(h.c.MuteConversationWithResponse(ctx(t), conv.Id, h.master()))
}

// Temporary conversations: _tmp: ids, at most 10 members, a ttl of at most
// 30 days, no membership changes, mute or PATCH, never listed, and gone —
// with their messages — once expired.
func TestTemporaryConversations(t *testing.T) {
	clk := newFakeClock()
	h := start(t, withClock(clk))
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	js, ms := jerry.open(), mary.open()
	mk := newMarker(t, h, "Jerry", "Mary")
	mk.settle(js, ms)

	tmp := tom.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &[]string{"Jerry"}, Name: ptr("call")})
	if !strings.HasPrefix(tmp.Id, "_tmp:") || tmp.Kind != client.ConversationKindTemporary {
		t.Errorf("temporary conversation %+v: want an id starting _tmp:", tmp)
	}
	if deref(tmp.Ttl) != 86400 || deref(tmp.ExpiresAt) != tmp.CreatedAt+86400*1000 {
		t.Errorf("default ttl %v expiresAt %v (createdAt %d), want 1 day", tmp.Ttl, tmp.ExpiresAt, tmp.CreatedAt)
	}
	if !sameSet(deref(tmp.Members), []string{"Tom", "Jerry"}) {
		t.Errorf("members %v", deref(tmp.Members))
	}
	if d := decode[invitedData](t, js.expect("invited")); d != (invitedData{tmp.Id, "Tom"}) {
		t.Errorf("invited %+v", d)
	}
	js.expectJoined(tmp.Id, "Tom", "Jerry") // as for a normal conversation
	// A temporary conversation works like any other for its members.
	sent := tom.sendText(tmp.Id, "quick question")
	js.expectText("quick question")
	if page := jerry.history(tmp.Id, client.ListMessagesParams{}); len(*page.Messages) != 1 || !sameJSON(t, (*page.Messages)[0], sent) {
		t.Errorf("history %+v", *page.Messages)
	}
	if n := jerry.count(tmp.Id); n != 2 {
		t.Errorf("member count %d, want 2", n)
	}
	if got := tom.get(tmp.Id); got.Id != tmp.Id || deref(got.ExpiresAt) != deref(tmp.ExpiresAt) {
		t.Errorf("GET %+v", got)
	}

	// Limits.
	ten := []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"} // and Tom: 10
	full := tom.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &ten, Ttl: ptr(int64(30 * 24 * 3600))})
	if len(deref(full.Members)) != 10 || deref(full.Ttl) != 30*24*3600 {
		t.Errorf("10 members, 30 days: %+v", full)
	}
	eleven := append(append([]string{}, ten...), "m10")
	expectProblem(t, "11 members", http.StatusConflict, client.MEMBERLIMIT)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &eleven}, tom.auth()))
	expectProblem(t, "ttl over 30 days", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &[]string{"Jerry"}, Ttl: ptr(int64(30*24*3600 + 1))}, tom.auth()))
	expectProblem(t, "a negative ttl", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &[]string{"Jerry"}, Ttl: ptr(int64(-5))}, tom.auth()))

	// What a temporary conversation does not support.
	members := client.MembersRequest{ClientIds: &[]string{"Mary"}}
	notSupported := func(what string) func(any, error) {
		return expectProblem(t, what, http.StatusConflict, client.OPERATIONNOTSUPPORTED)
	}
	notSupported("add members")(h.c.AddMembersWithResponse(ctx(t), tmp.Id, members, tom.auth()))
	notSupported("remove members")(h.c.RemoveMembersWithResponse(ctx(t), tmp.Id, client.MembersRequest{ClientIds: &[]string{"Jerry"}}, tom.auth()))
	notSupported("mute")(h.c.MuteConversationWithResponse(ctx(t), tmp.Id, jerry.auth()))
	notSupported("unmute")(h.c.UnmuteConversationWithResponse(ctx(t), tmp.Id, jerry.auth()))
	notSupported("PATCH")(h.c.UpdateConversationWithResponse(ctx(t), tmp.Id, client.UpdateConversationRequest{Name: ptr("x")}, tom.auth()))
	notSupported("PATCH with the master key")(h.c.UpdateConversationWithResponse(ctx(t), tmp.Id, client.UpdateConversationRequest{Name: ptr("x")}, h.master()))
	notSupported("add members with the master key")(h.c.AddMembersWithResponse(ctx(t), tmp.Id, members, h.master()))
	notSupported("join")(h.c.JoinConversationWithResponse(ctx(t), tmp.Id, client.Signed{}, mary.auth()))
	if got := tom.get(tmp.Id); got.Name != "call" || !sameSet(deref(got.Members), []string{"Tom", "Jerry"}) {
		t.Errorf("the refused operations changed the conversation: %+v", got)
	}

	// Never listed, whatever the query.
	for _, where := range []string{`{}`, `{"m":"Tom"}`, `{"id":"` + tmp.Id + `"}`, `{"kind":"temporary"}`, `{"id":{"$regex":"^_tmp:"}}`} {
		for _, res := range h.query(tom, client.QueryConversationsParams{Where: &where, Limit: ptr(int64(1000))}) {
			if strings.HasPrefix(res.Id, "_tmp:") || res.Kind == client.ConversationKindTemporary {
				t.Errorf("where %s lists temporary conversation %s", where, res.Id)
			}
		}
	}

	// Expiry: the second after expiresAt, every operation answers
	// CONVERSATION_NOT_FOUND, for members and the master key alike.
	db := openDBReadOnly(t, h)
	if n := countRows(t, db, "messages", tmp.Id); n != 1 {
		t.Fatalf("%d stored messages before the expiry, want 1", n)
	}
	created := clk.Now()
	clk.Advance(24*time.Hour - time.Second)
	tom.sendText(tmp.Id, "still here") // not expired yet
	js.expectText("still here")
	clk.Advance(2 * time.Second)
	gone := func(what string) func(any, error) {
		return expectProblem(t, what+" after the expiry", http.StatusNotFound, client.CONVERSATIONNOTFOUND)
	}
	gone("GET")(h.c.GetConversationWithResponse(ctx(t), tmp.Id, tom.auth()))
	gone("GET with the master key")(h.c.GetConversationWithResponse(ctx(t), tmp.Id, h.master()))
	gone("send")(h.c.SendMessageWithResponse(ctx(t), tmp.Id, textMsg("too late"), tom.auth()))
	gone("admin send")(h.c.AdminSendMessageWithResponse(ctx(t), tmp.Id, client.AdminSendInputBody{From: "Tom", Type: ptr(int64(-1)), Text: ptr("too late")}, h.master()))
	gone("history")(h.c.ListMessagesWithResponse(ctx(t), tmp.Id, nil, jerry.auth()))
	gone("master-key history")(h.c.ListMessagesWithResponse(ctx(t), tmp.Id, nil, h.master()))
	gone("count")(h.c.CountMembersWithResponse(ctx(t), tmp.Id, tom.auth()))
	gone("quit")(h.c.QuitConversationWithResponse(ctx(t), tmp.Id, jerry.auth()))
	gone("join")(h.c.JoinConversationWithResponse(ctx(t), tmp.Id, client.Signed{}, mary.auth()))
	gone("add members")(h.c.AddMembersWithResponse(ctx(t), tmp.Id, members, tom.auth()))
	gone("remove members")(h.c.RemoveMembersWithResponse(ctx(t), tmp.Id, members, tom.auth()))
	gone("mute")(h.c.MuteConversationWithResponse(ctx(t), tmp.Id, tom.auth()))
	gone("PATCH")(h.c.UpdateConversationWithResponse(ctx(t), tmp.Id, client.UpdateConversationRequest{Name: ptr("x")}, tom.auth()))

	// The sweeper deletes it with its messages and members; the 30-day one
	// stays.
	n, err := h.srv.Service().SweepExpired(ctx(t))
	if err != nil || n != 1 {
		t.Fatalf("SweepExpired = %d, %v; want 1", n, err)
	}
	for _, table := range []string{"messages", "members"} {
		if n := countRows(t, db, table, tmp.Id); n != 0 {
			t.Errorf("%d %s rows of the expired conversation left after the sweep", n, table)
		}
	}
	var left int
	if err := db.QueryRow("SELECT count(*) FROM conversations WHERE id = ?", tmp.Id).Scan(&left); err != nil || left != 0 {
		t.Errorf("the conversation row: %d, %v; want deleted", left, err)
	}
	// Even with the clock set back, it is gone for good.
	clk.Set(created)
	gone("GET with the clock set back")(h.c.GetConversationWithResponse(ctx(t), tmp.Id, h.master()))
	if got := tom.get(full.Id); got.Id != full.Id {
		t.Errorf("the 30-day conversation: %+v", got)
	}
	if n, err := h.srv.Service().SweepExpired(ctx(t)); err != nil || n != 0 {
		t.Errorf("a second sweep: %d, %v; want 0", n, err)
	}
	// Mary heard of none of it.
	mk.check(js, ms)
}

// openDBReadOnly opens the test server's database for reading, beside the
// server's own connections (WAL allows it).
func openDBReadOnly(t *testing.T, h *harness) *sql.DB {
	t.Helper()
	_ = sqlite3.SQLITE_OK // the driver registers "sqlite3"
	db, err := sql.Open("sqlite3", "file:"+h.dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func countRows(t *testing.T, db *sql.DB, table, convID string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM "+table+" WHERE conversation_id = ?", convID).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// System conversations: created with the master key; clients subscribe with
// join and leave with quit; what the backend sends reaches every subscriber;
// what a client sends reaches the backend alone.
func TestSystemConversations(t *testing.T) {
	h := start(t)
	alice, bob, carol, dave := h.login("Alice"), h.login("Bob"), h.login("Carol"), h.login("Dave")
	as, bs, cs := alice.open(), bob.open(), carol.open()
	mk := newMarker(t, h, "Alice", "Bob", "Carol")
	mk.settle(as, bs, cs)

	expectProblem(t, "a client creates a system conversation", http.StatusForbidden, client.FORBIDDEN)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Name: ptr("News")}, alice.auth()))
	expectProblem(t, "a system conversation with members", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Members: &[]string{"Alice"}}, h.master()))
	sys := h.createWithMaster(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Name: ptr("News"), Attributes: &map[string]any{"channel": "news"}})
	if sys.Kind != client.ConversationKindSystem || sys.Creator != "" || sys.Members != nil {
		t.Errorf("system conversation %+v", sys)
	}

	// Subscribing and unsubscribing tell nobody.
	for _, u := range []*user{alice, bob, dave} {
		c := u.join(sys.Id)
		if c.Members != nil {
			t.Errorf("join answers a member list %v", *c.Members)
		}
	}
	if n := alice.count(sys.Id); n != 3 {
		t.Errorf("subscriber count %d, want 3", n)
	}
	expectProblem(t, "quit without a subscription", http.StatusForbidden, client.NOTAMEMBER)(h.c.QuitConversationWithResponse(ctx(t), sys.Id, carol.auth()))
	mk.check(as, bs, cs)

	// The backend's messages reach every online subscriber, and the history
	// of every subscriber (Dave, offline, reads it later).
	admin := func(from, text string) client.Message {
		t.Helper()
		r, err := h.c.AdminSendMessageWithResponse(ctx(t), sys.Id, client.AdminSendInputBody{From: from, Type: ptr(int64(-1)), Text: &text}, h.master())
		okStatus(t, "admin send", http.StatusCreated, r, err)
		return *r.JSON201
	}
	news := admin("newsroom", "extra!")
	if news.From != "newsroom" || news.ConversationId != sys.Id {
		t.Errorf("admin send answered %+v", news)
	}
	for _, s := range []*stream{as, bs} {
		if m := s.expectText("extra!"); !sameJSON(t, m.Message, news) || m.ConversationID != sys.Id {
			t.Errorf("%s got %+v, want %+v", s.name, m, news)
		}
	}
	if got := texts(*dave.history(sys.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"extra!"}) {
		t.Errorf("Dave's history %v", got)
	}
	expectProblem(t, "Carol reads the history without a subscription", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), sys.Id, nil, carol.auth()))
	expectProblem(t, "Carol sends without a subscription", http.StatusForbidden, client.NOTAMEMBER)(h.c.SendMessageWithResponse(ctx(t), sys.Id, textMsg("hi"), carol.auth()))
	mk.check(as, bs, cs) // Carol, no subscriber, got nothing

	// A client's message is stored for the backend and reaches no one else:
	// not Bob's stream, not Bob's history, not Alice's other session.
	alicePad := h.login("Alice")
	aps := alicePad.open() // Alice's second session gets the markers too
	private := alice.sendText(sys.Id, "please unsubscribe me from the sports pages")
	if private.From != "Alice" || private.ConversationId != sys.Id {
		t.Errorf("the client's message %+v", private)
	}
	mk.check(as, aps, bs, cs)
	if got := texts(h.masterHistory(sys.Id)); !sameJSON(t, got, []string{"extra!", "please unsubscribe me from the sports pages"}) {
		t.Errorf("master-key history %v", got)
	}
	if got := texts(*bob.history(sys.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"extra!"}) {
		t.Errorf("Bob's history %v: another subscriber's message leaked", got)
	}
	if got := texts(*dave.history(sys.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"extra!"}) {
		t.Errorf("Dave's history %v: another subscriber's message leaked", got)
	}
	if got := texts(*alice.history(sys.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"extra!", "please unsubscribe me from the sports pages"}) {
		t.Errorf("Alice's own history %v", got)
	}
	// Nor does it show to Bob as the conversation's last message, or as unread.
	if res := h.query(bob, client.QueryConversationsParams{Where: ptr(`{"id":"` + sys.Id + `"}`), WithLastMessage: ptr(true)}); len(res) != 1 ||
		res[0].LastMessage == nil || deref(res[0].LastMessage.Text) != "extra!" {
		t.Errorf("Bob's query with the last message: %+v", res)
	}
	ur, err := h.c.GetUnreadWithResponse(ctx(t), bob.auth())
	okStatus(t, "Bob's unread", http.StatusOK, ur, err)
	for _, e := range deref(ur.JSON200.Conversations) {
		if e.ConversationId == sys.Id && (e.UnreadMessagesCount != 1 || e.LastMessage == nil || deref(e.LastMessage.Text) != "extra!") {
			t.Errorf("Bob's unread entry of the system conversation: %d, last %+v; want 1, the newsroom's", e.UnreadMessagesCount, e.LastMessage)
		}
	}
	// Broadcast to the system conversation: stored, and to every subscriber.
	br, err := h.c.BroadcastWithResponse(ctx(t), client.BroadcastRequest{ConversationId: &sys.Id, Message: client.Content{Type: ptr(int64(-1)), Text: ptr("maintenance at noon")}}, h.master())
	okStatus(t, "broadcast to the system conversation", http.StatusCreated, br, err)
	if br.JSON201.From != "system" || br.JSON201.ConversationId != sys.Id {
		t.Errorf("broadcast answered %+v", br.JSON201)
	}
	for _, s := range []*stream{as, aps, bs} {
		if m := s.expectText("maintenance at noon"); m.Message.Id != br.JSON201.Id {
			t.Errorf("%s got %+v", s.name, m.Message)
		}
	}
	mk.check(as, aps, bs, cs)
	if got := texts(*dave.history(sys.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"extra!", "maintenance at noon"}) {
		t.Errorf("Dave's history after the broadcast %v", got)
	}

	// Broadcast to every online session: Carol too; nothing is stored.
	br, err = h.c.BroadcastWithResponse(ctx(t), client.BroadcastRequest{ToAllOnline: ptr(true), From: ptr("ops"), Message: client.Content{Type: ptr(int64(-1)), Text: ptr("server restart in 5 minutes")}}, h.master())
	okStatus(t, "broadcast to all online", http.StatusCreated, br, err)
	for _, s := range []*stream{as, aps, bs, cs} {
		if m := s.expectText("server restart in 5 minutes"); m.Message.From != "ops" {
			t.Errorf("%s got %+v", s.name, m.Message)
		}
	}
	if got := texts(h.masterHistory(sys.Id)); len(got) != 3 {
		t.Errorf("the toAllOnline broadcast was stored in the system conversation: %v", got)
	}

	// Broadcasts go to system conversations only, with either a target or
	// toAllOnline, and need the master key.
	normal := alice.createConv("Bob")
	expectProblem(t, "broadcast to a normal conversation", http.StatusConflict, client.OPERATIONNOTSUPPORTED)(h.c.BroadcastWithResponse(ctx(t),
		client.BroadcastRequest{ConversationId: &normal.Id, Message: client.Content{Type: ptr(int64(-1)), Text: ptr("x")}}, h.master()))
	expectProblem(t, "broadcast to nothing", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.BroadcastWithResponse(ctx(t),
		client.BroadcastRequest{Message: client.Content{Type: ptr(int64(-1)), Text: ptr("x")}}, h.master()))
	expectProblem(t, "broadcast to an unknown conversation", http.StatusNotFound, client.CONVERSATIONNOTFOUND)(h.c.BroadcastWithResponse(ctx(t),
		client.BroadcastRequest{ConversationId: ptr("nope"), Message: client.Content{Type: ptr(int64(-1)), Text: ptr("x")}}, h.master()))
	expectProblem(t, "broadcast with a session token", http.StatusUnauthorized, client.UNAUTHORIZED)(h.c.BroadcastWithResponse(ctx(t),
		client.BroadcastRequest{ToAllOnline: ptr(true), Message: client.Content{Type: ptr(int64(-1)), Text: ptr("x")}}, alice.auth()))
	expectProblem(t, "admin send with a session token", http.StatusUnauthorized, client.UNAUTHORIZED)(h.c.AdminSendMessageWithResponse(ctx(t),
		sys.Id, client.AdminSendInputBody{From: "Alice", Type: ptr(int64(-1)), Text: ptr("x")}, alice.auth()))
	bs.expect("invited") // of the normal conversation
	for _, s := range []*stream{as, aps, bs} {
		s.expectJoined(normal.Id, "Alice", "Bob")
	}

	// The admin send also speaks as anyone into any conversation.
	r, err := h.c.AdminSendMessageWithResponse(ctx(t), normal.Id, client.AdminSendInputBody{From: "Bob", Type: ptr(int64(-1)), Text: ptr("said for Bob")}, h.master())
	okStatus(t, "admin send into a normal conversation", http.StatusCreated, r, err)
	for _, s := range []*stream{as, aps, bs} {
		if m := s.expectText("said for Bob"); m.Message.From != "Bob" {
			t.Errorf("%s got %+v", s.name, m.Message)
		}
	}

	// Bob unsubscribes: no more of the backend's messages, no history.
	bob.quit(sys.Id)
	admin("newsroom", "after Bob left")
	as.expectText("after Bob left")
	aps.expectText("after Bob left")
	mk.check(as, aps, bs, cs)
	expectProblem(t, "Bob reads the history after quitting", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), sys.Id, nil, bob.auth()))
	if n := alice.count(sys.Id); n != 2 {
		t.Errorf("subscriber count %d, want 2", n)
	}
	// Only the master key changes a system conversation.
	expectProblem(t, "a subscriber patches", http.StatusForbidden, client.FORBIDDEN)(h.c.UpdateConversationWithResponse(ctx(t),
		sys.Id, client.UpdateConversationRequest{Name: ptr("Mine")}, alice.auth()))
	pr, err := h.c.UpdateConversationWithResponse(ctx(t), sys.Id, client.UpdateConversationRequest{Name: ptr("Headlines")}, h.master())
	okStatus(t, "the master key patches", http.StatusOK, pr, err)
	for _, s := range []*stream{as, aps} {
		if d := decode[infoUpdatedData](t, s.expect("infoupdated")); d.Name != "Headlines" {
			t.Errorf("%s: infoupdated %+v", s.name, d)
		}
	}
	mk.check(as, aps, bs, cs)
}
