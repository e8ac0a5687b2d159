package integration

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// Tom and Jerry: the walkthrough of the README, end to end.
func TestTomAndJerry(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	tomPhone := h.login("Tom") // a second session of Tom, without a tag
	jerry := h.login("Jerry")
	if tom.SessionId == tomPhone.SessionId {
		t.Fatal("two logins share a session")
	}

	js := jerry.open()
	if js.Hello.Resumed {
		t.Error("a fresh stream says resumed: true")
	}
	ts := tom.open()
	tps := tomPhone.open()

	conv := tom.createConv("Jerry")
	if conv.Kind != client.ConversationKindNormal || conv.Creator != "Tom" {
		t.Errorf("conversation %+v", conv)
	}
	if got := deref(conv.Members); !sameSet(got, []string{"Tom", "Jerry"}) {
		t.Errorf("members %v, want Tom and Jerry", got)
	}
	inv := decode[invitedData](t, js.expect("invited"))
	if inv != (invitedData{ConversationID: conv.Id, InvitedBy: "Tom"}) {
		t.Errorf("invited %+v", inv)
	}
	// Creating it sends what adding Jerry would: membersjoined to every
	// member's sessions, the creating one included.
	for _, s := range []*stream{js, ts, tps} {
		s.expectJoined(conv.Id, "Tom", "Jerry")
	}

	sent := tom.sendText(conv.Id, "Hello Jerry!")
	if sent.From != "Tom" || sent.ConversationId != conv.Id || deref(sent.Type) != -1 || sent.Id == "" || sent.Timestamp <= 0 {
		t.Errorf("sent message %+v", sent)
	}
	got := js.expectText("Hello Jerry!")
	if got.ConversationID != conv.Id || got.Mentioned || got.Offline {
		t.Errorf("message event %+v", got)
	}
	if !sameJSON(t, got.Message, sent) {
		t.Errorf("Jerry got %+v, Tom sent %+v", got.Message, sent)
	}

	// Tom's other session gets the message too; the sending one does not:
	// the next thing it sees is Jerry's answer.
	if m := tps.expectText("Hello Jerry!"); !sameJSON(t, m.Message, sent) {
		t.Errorf("Tom's other session got %+v", m.Message)
	}
	answer := jerry.sendText(conv.Id, "Hi Tom")
	ts.expectText("Hi Tom")
	tps.expectText("Hi Tom")

	page := jerry.history(conv.Id, client.ListMessagesParams{})
	if len(*page.Messages) != 2 || page.HasMore {
		t.Fatalf("history: %d messages, hasMore %v", len(*page.Messages), page.HasMore)
	}
	if !sameJSON(t, (*page.Messages)[0], sent) || !sameJSON(t, (*page.Messages)[1], answer) {
		t.Errorf("history %+v, want Tom's then Jerry's message", *page.Messages)
	}

	// lastMessageAt follows the conversation.
	r, err := h.c.GetConversationWithResponse(ctx(t), conv.Id, jerry.auth())
	if err != nil || r.JSON200 == nil {
		t.Fatalf("get conversation: %v %s", err, r.Body)
	}
	if deref(r.JSON200.LastMessageAt) != answer.Timestamp {
		t.Errorf("lastMessageAt %v, want %d", r.JSON200.LastMessageAt, answer.Timestamp)
	}
}

// The membership events (README, "Normal conversations"), action by
// action, with every one of Tom, Jerry, Mary and William holding an open
// stream. After each action a probe message goes to a conversation of all
// four (sent by a fifth client): each stream must show exactly the expected
// events before that probe, so those who should get nothing provably get
// nothing.
func TestMembershipEvents(t *testing.T) {
	h := start(t)
	tom, jerry, mary, william := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("William")
	jerryPad := h.login("Jerry") // Jerry's second device
	spike := h.login("Spike")

	streams := map[string]*stream{
		"Tom": tom.open(), "Jerry": jerry.open(), "Mary": mary.open(), "William": william.open(),
		"JerryPad": jerryPad.open(),
	}
	probe := spike.createConv("Tom", "Jerry", "Mary", "William")
	for _, s := range streams {
		decode[invitedData](t, s.expect("invited"))
		decode[membersJoinedData](t, s.expect("membersjoined"))
	}
	n := 0
	// settle sends a probe and checks that each stream got exactly want
	// (event names in order) before it.
	settle := func(step string, want map[string][]string) map[string][]frame {
		t.Helper()
		n++
		text := "probe " + step
		spike.sendText(probe.Id, text)
		got := map[string][]frame{}
		for name, s := range streams {
			for {
				f := s.next()
				if f.Event == "message" && deref(decode[messageData](t, f).Message.Text) == text {
					break
				}
				got[name] = append(got[name], f)
			}
			var names []string
			for _, f := range got[name] {
				names = append(names, f.Event)
			}
			if !slices.Equal(names, want[name]) {
				t.Errorf("%s: %s got %v, want %v", step, name, names, want[name])
			}
		}
		return got
	}

	// Tom creates a conversation with Jerry: the same notices as adding
	// Jerry, invited to Jerry and membersjoined to both (every session).
	conv := tom.createConv("Jerry")
	got := settle("create", map[string][]string{
		"Tom": {"membersjoined"}, "Jerry": {"invited", "membersjoined"}, "JerryPad": {"invited", "membersjoined"}})
	if d := decode[invitedData](t, got["Jerry"][0]); d != (invitedData{conv.Id, "Tom"}) {
		t.Errorf("create: invited %+v", d)
	}
	for _, name := range []string{"Tom", "Jerry", "JerryPad"} {
		if fs := got[name]; len(fs) > 0 {
			d := decode[membersJoinedData](t, fs[len(fs)-1])
			if d.ConversationID != conv.Id || !slices.Equal(d.Members, []string{"Jerry"}) || d.InvitedBy != "Tom" {
				t.Errorf("create: %s got membersjoined %+v, want Jerry invited by Tom", name, d)
			}
		}
	}

	// Tom adds Mary.
	r, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth())
	if err != nil || r.JSON200 == nil {
		t.Fatalf("add Mary: %v %s", err, r.Body)
	}
	if !sameSet(deref(r.JSON200.Members), []string{"Tom", "Jerry", "Mary"}) {
		t.Errorf("after adding Mary: members %v", deref(r.JSON200.Members))
	}
	joined := []string{"membersjoined"}
	got = settle("Tom adds Mary", map[string][]string{
		"Tom": joined, "Jerry": joined, "JerryPad": joined, "Mary": {"invited", "membersjoined"},
	})
	wantJoined := membersJoinedData{ConversationID: conv.Id, Members: []string{"Mary"}, InvitedBy: "Tom"}
	for _, who := range []string{"Tom", "Jerry", "Mary"} {
		fs := got[who]
		if d := decode[membersJoinedData](t, fs[len(fs)-1]); !sameJSON(t, d, wantJoined) {
			t.Errorf("Tom adds Mary: %s got membersjoined %+v, want %+v", who, d, wantJoined)
		}
	}
	if d := decode[invitedData](t, got["Mary"][0]); d != (invitedData{conv.Id, "Tom"}) {
		t.Errorf("Tom adds Mary: Mary got invited %+v", d)
	}

	// Tom removes Mary.
	rr, err := h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth())
	if err != nil || rr.JSON200 == nil {
		t.Fatalf("remove Mary: %v %s", err, rr.Body)
	}
	if !sameSet(deref(rr.JSON200.Members), []string{"Tom", "Jerry"}) {
		t.Errorf("after removing Mary: members %v", deref(rr.JSON200.Members))
	}
	left := []string{"membersleft"}
	got = settle("Tom removes Mary", map[string][]string{
		"Tom": left, "Jerry": left, "JerryPad": left, "Mary": {"kicked"},
	})
	wantLeft := membersLeftData{ConversationID: conv.Id, Members: []string{"Mary"}, KickedBy: "Tom"}
	for _, who := range []string{"Tom", "Jerry"} {
		if d := decode[membersLeftData](t, got[who][0]); !sameJSON(t, d, wantLeft) {
			t.Errorf("Tom removes Mary: %s got membersleft %+v, want %+v", who, d, wantLeft)
		}
	}
	if d := decode[kickedData](t, got["Mary"][0]); d != (kickedData{conv.Id, "Tom"}) {
		t.Errorf("Tom removes Mary: Mary got kicked %+v", d)
	}

	// William joins.
	jr, err := h.c.JoinConversationWithResponse(ctx(t), conv.Id, client.Signed{}, william.auth())
	if err != nil || jr.JSON200 == nil {
		t.Fatalf("William joins: %v %s", err, jr.Body)
	}
	if !sameSet(deref(jr.JSON200.Members), []string{"Tom", "Jerry", "William"}) {
		t.Errorf("after William joined: members %v", deref(jr.JSON200.Members))
	}
	got = settle("William joins", map[string][]string{
		"Tom": joined, "Jerry": joined, "JerryPad": joined, "William": joined,
	})
	wantJoined = membersJoinedData{ConversationID: conv.Id, Members: []string{"William"}, InvitedBy: "William"}
	for _, who := range []string{"Tom", "Jerry", "William"} {
		if d := decode[membersJoinedData](t, got[who][0]); !sameJSON(t, d, wantJoined) {
			t.Errorf("William joins: %s got membersjoined %+v, want %+v", who, d, wantJoined)
		}
	}

	// Jerry quits (from his first device): both of his sessions are told.
	qr, err := h.c.QuitConversationWithResponse(ctx(t), conv.Id, jerry.auth())
	if err != nil || qr.JSON200 == nil {
		t.Fatalf("Jerry quits: %v %s", err, qr.Body)
	}
	got = settle("Jerry quits", map[string][]string{
		"Tom": left, "Jerry": left, "JerryPad": left, "William": left,
	})
	wantLeft = membersLeftData{ConversationID: conv.Id, Members: []string{"Jerry"}, KickedBy: "Jerry"}
	for _, who := range []string{"Tom", "Jerry", "JerryPad", "William"} {
		if d := decode[membersLeftData](t, got[who][0]); !sameJSON(t, d, wantLeft) {
			t.Errorf("Jerry quits: %s got membersleft %+v, want %+v", who, d, wantLeft)
		}
	}

	// Membership decides who gets messages now: Tom and William, not Jerry
	// nor Mary.
	tom.sendText(conv.Id, "after the changes")
	got = settle("a message", map[string][]string{"William": {"message"}})
	if d := decode[messageData](t, got["William"][0]); deref(d.Message.Text) != "after the changes" {
		t.Errorf("William got %q", deref(d.Message.Text))
	}
	cr, err := h.c.CountMembersWithResponse(ctx(t), conv.Id, tom.auth())
	if err != nil || cr.JSON200 == nil || cr.JSON200.Count != 2 {
		t.Errorf("member count: %v %s, want 2", err, cr.Body)
	}
	expectProblem(t, "Jerry reads history after quitting", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), conv.Id, nil, jerry.auth()))
}

// Creating a normal or temporary conversation sends its members what adding
// them would (the guides: "the same notices as an invitation"; the README's
// events table): each invited member gets invited, then every member, the
// creator included, membersjoined listing the invited members, invitedBy
// the creator ("" for the master key). A conversation of the creator
// alone, a unique conversation found again, a chat room and a system
// conversation send nothing.
func TestCreationSendsMembershipNotices(t *testing.T) {
	h := start(t)
	tom, jerry, mary, spike := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("Spike")
	streams := map[string]*stream{"Tom": tom.open(), "Jerry": jerry.open(), "Mary": mary.open()}
	probe := spike.createConv("Tom", "Jerry", "Mary")
	for _, s := range streams {
		s.expect("invited")
		s.expectJoined(probe.Id, "Spike", "Jerry", "Mary", "Tom")
	}
	n := 0
	// settle sends a probe and returns, for each stream, the events that
	// came before it.
	settle := func() map[string][]frame {
		t.Helper()
		n++
		text := fmt.Sprint("probe ", n)
		spike.sendText(probe.Id, text)
		got := map[string][]frame{}
		for name, s := range streams {
			for {
				f := s.next()
				if f.Event == "message" && deref(decode[messageData](t, f).Message.Text) == text {
					break
				}
				got[name] = append(got[name], f)
			}
		}
		return got
	}
	// expect checks that the events before the next probe are, for each
	// invited client, invited then membersjoined, for each other member
	// membersjoined, and nothing for anyone else.
	expect := func(what, convID, by string, members []string, invited ...string) {
		t.Helper()
		for name, fs := range settle() {
			var want []string
			if slices.Contains(invited, name) {
				want = append(want, "invited")
			}
			if slices.Contains(members, name) {
				want = append(want, "membersjoined")
			}
			var names []string
			for _, f := range fs {
				names = append(names, f.Event)
			}
			if !slices.Equal(names, want) {
				t.Errorf("%s: %s got %v, want %v", what, name, names, want)
				continue
			}
			for _, f := range fs {
				switch f.Event {
				case "invited":
					if d := decode[invitedData](t, f); d != (invitedData{convID, by}) {
						t.Errorf("%s: %s got invited %+v", what, name, d)
					}
				case "membersjoined":
					d := decode[membersJoinedData](t, f)
					if d.ConversationID != convID || d.InvitedBy != by || !sameSet(d.Members, invited) {
						t.Errorf("%s: %s got membersjoined %+v, want %v invited by %q", what, name, d, invited, by)
					}
				}
			}
		}
	}
	create := func(auth client.RequestEditorFn, req client.CreateConversationRequest, status int) client.Conversation {
		t.Helper()
		r, err := h.c.CreateConversationWithResponse(ctx(t), req, auth)
		if err != nil || r.StatusCode() != status {
			t.Fatalf("create %+v: %v %d %s", req, err, r.StatusCode(), r.Body)
		}
		if status == http.StatusOK {
			return *r.JSON200
		}
		return *r.JSON201
	}
	everyone := []string{"Tom", "Jerry", "Mary"}

	c := create(tom.auth(), client.CreateConversationRequest{Members: &[]string{"Jerry", "Mary"}}, http.StatusCreated)
	expect("a group", c.Id, "Tom", everyone, "Jerry", "Mary")
	c = create(tom.auth(), client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindTemporary), Members: &[]string{"Jerry"}}, http.StatusCreated)
	expect("a temporary conversation", c.Id, "Tom", []string{"Tom", "Jerry"}, "Jerry")
	c = create(h.master(), client.CreateConversationRequest{Members: &[]string{"Jerry", "Mary"}}, http.StatusCreated)
	expect("by the master key", c.Id, "", []string{"Jerry", "Mary"}, "Jerry", "Mary")
	c = create(tom.auth(), client.CreateConversationRequest{Members: &[]string{"Mary"}, Unique: ptr(true)}, http.StatusCreated)
	expect("a unique conversation", c.Id, "Tom", []string{"Tom", "Mary"}, "Mary")
	create(mary.auth(), client.CreateConversationRequest{Members: &[]string{"Tom"}, Unique: ptr(true)}, http.StatusOK)
	expect("a unique conversation found again", "", "", nil)
	create(tom.auth(), client.CreateConversationRequest{}, http.StatusCreated)
	expect("the creator alone", "", "", nil)
	create(tom.auth(), client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom)}, http.StatusCreated)
	expect("a chat room", "", "", nil)
	create(h.master(), client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem)}, http.StatusCreated)
	expect("a system conversation", "", "", nil)
}

// Adding someone already a member, or removing a non-member, changes nothing
// and tells nobody.
func TestMembershipNoOps(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	js, ts := jerry.open(), tom.open()
	conv := tom.createConv("Jerry")
	js.expect("invited")
	js.expectJoined(conv.Id, "Tom", "Jerry") // the creation's
	ts.expectJoined(conv.Id, "Tom", "Jerry")

	r, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Jerry"}}, tom.auth())
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("add an existing member: %v %s", err, r.Body)
	}
	rr, err := h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Nobody"}}, tom.auth())
	if err != nil || rr.StatusCode() != http.StatusOK {
		t.Fatalf("remove a non-member: %v %s", err, rr.Body)
	}
	jr, err := h.c.JoinConversationWithResponse(ctx(t), conv.Id, client.Signed{}, jerry.auth())
	if err != nil || jr.StatusCode() != http.StatusOK {
		t.Fatalf("join as a member: %v %s", err, jr.Body)
	}
	expectProblem(t, "quit as a non-member", http.StatusForbidden, client.NOTAMEMBER)(h.c.QuitConversationWithResponse(ctx(t), conv.Id, h.login("Mary").auth()))

	// Nothing was announced: the next event of each is this message.
	jerry.sendText(conv.Id, "marker")
	ts.expectText("marker")
	tom.sendText(conv.Id, "marker 2")
	js.expectText("marker 2")

	cr, err := h.c.CountMembersWithResponse(ctx(t), conv.Id, jerry.auth())
	if err != nil || cr.JSON200 == nil || cr.JSON200.Count != 2 {
		t.Errorf("member count: %v %s, want 2", err, cr.Body)
	}
}

// unique: true returns the one conversation of a member set; the master key
// reads any conversation and its history.
func TestUniqueConversationsAndMasterKey(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	js := jerry.open()

	uniq := func(u *user, members ...string) *client.CreateConversationResponse {
		t.Helper()
		r, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{
			Members: &members, Unique: ptr(true), Name: ptr("Tom & Jerry"),
		}, u.auth())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := uniq(tom, "Jerry")
	if first.StatusCode() != http.StatusCreated || first.JSON201 == nil {
		t.Fatalf("first unique create: %d %s", first.StatusCode(), first.Body)
	}
	c1 := *first.JSON201
	if !c1.Unique {
		t.Error("unique: false on a conversation created unique")
	}
	js.expect("invited")
	js.expectJoined(c1.Id, "Tom", "Jerry")

	again := uniq(tom, "Jerry", "Tom", "Jerry") // the caller and duplicates change nothing
	if again.StatusCode() != http.StatusOK {
		t.Fatalf("second unique create: %d %s, want 200", again.StatusCode(), again.Body)
	}
	if again.JSON200 == nil || again.JSON200.Id != c1.Id {
		t.Fatalf("second unique create returned %s, want conversation %s", again.Body, c1.Id)
	}
	fromJerry := uniq(jerry, "Tom")
	if fromJerry.StatusCode() != http.StatusOK || fromJerry.JSON200 == nil || fromJerry.JSON200.Id != c1.Id {
		t.Fatalf("Jerry's unique create: %d %s, want 200 with %s", fromJerry.StatusCode(), fromJerry.Body, c1.Id)
	}
	other := uniq(tom, "Jerry", "Mary")
	if other.StatusCode() != http.StatusCreated || other.JSON201 == nil || other.JSON201.Id == c1.Id {
		t.Fatalf("unique create with another member set: %d %s, want a new conversation", other.StatusCode(), other.Body)
	}
	js.expect("invited") // for the Tom, Jerry, Mary conversation only
	js.expectJoined(other.JSON201.Id, "Tom", "Jerry", "Mary")

	// Without unique, every create is a new conversation.
	plain := tom.createConv("Jerry")
	if plain.Id == c1.Id || plain.Unique {
		t.Errorf("a non-unique create returned %+v", plain)
	}
	js.expect("invited")
	js.expectJoined(plain.Id, "Tom", "Jerry")

	cr, err := h.c.CountMembersWithResponse(ctx(t), c1.Id, tom.auth())
	if err != nil || cr.JSON200 == nil || cr.JSON200.Count != 2 {
		t.Errorf("member count: %v %s, want 2", err, cr.Body)
	}

	// The master key reads any conversation and its history.
	sent := tom.sendText(c1.Id, "for the record")
	js.expectText("for the record")
	gr, err := h.c.GetConversationWithResponse(ctx(t), c1.Id, h.master())
	if err != nil || gr.JSON200 == nil || gr.JSON200.Id != c1.Id || !sameSet(deref(gr.JSON200.Members), []string{"Tom", "Jerry"}) {
		t.Fatalf("master key gets the conversation: %v %s", err, gr.Body)
	}
	lr, err := h.c.ListMessagesWithResponse(ctx(t), c1.Id, nil, h.master())
	if err != nil || lr.JSON200 == nil || len(*lr.JSON200.Messages) != 1 || !sameJSON(t, (*lr.JSON200.Messages)[0], sent) {
		t.Fatalf("master key reads the history: %v %s", err, lr.Body)
	}
	mc, err := h.c.CountMembersWithResponse(ctx(t), c1.Id, h.master())
	if err != nil || mc.JSON200 == nil || mc.JSON200.Count != 2 {
		t.Errorf("master key counts members: %v %s", err, mc.Body)
	}

	// The master key creates conversations for others: all of them are
	// invited, by nobody in particular, and all of them joined.
	mr, err := h.c.CreateConversationWithResponse(ctx(t), client.CreateConversationRequest{Members: &[]string{"Jerry", "Tom"}}, h.master())
	if err != nil || mr.JSON201 == nil || !sameSet(deref(mr.JSON201.Members), []string{"Tom", "Jerry"}) {
		t.Fatalf("master key creates a conversation: %v %s", err, mr.Body)
	}
	if inv := decode[invitedData](t, js.expect("invited")); inv.ConversationID != mr.JSON201.Id {
		t.Errorf("invited %+v", inv)
	}
	js.expectJoined(mr.JSON201.Id, "", "Jerry", "Tom")
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
