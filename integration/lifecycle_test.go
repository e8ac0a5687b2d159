package integration

import (
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// The message lifecycle (the OpenAPI document's message operations; README,
// "The event stream"; issue 5, items 1–6): mentions, recall and edit,
// transient messages, receipts, unread counts and offline messages, each
// through the real server and its streams.
// Will messages and presence are in will_test.go. The helpers of both files
// carry an lc prefix, so that they never clash with the other files'.

// lcGrace is the offline grace of the servers that run on an fakeClock.
const lcGrace = 2 * time.Second

func lcWithClock(c *fakeClock) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.Now = c.Now
		cfg.OfflineGrace = lcGrace
	}
}

// Event data of the lifecycle events, as the OpenAPI document names them
// (x-parley-events).
type (
	lcUnreadData struct {
		Conversations []client.UnreadEntry `json:"conversations"`
	}
	lcChangeData struct {
		ConversationID string         `json:"conversationId"`
		Message        client.Message `json:"message"`
	}
	lcDeliveredData struct {
		ConversationID  string `json:"conversationId"`
		LastDeliveredAt int64  `json:"lastDeliveredAt"`
	}
	lcReadData struct {
		ConversationID string `json:"conversationId"`
		ClientID       string `json:"clientId"`
		LastReadAt     int64  `json:"lastReadAt"`
	}
	lcPresenceData struct {
		ClientID string `json:"clientId"`
		Online   bool   `json:"online"`
	}
)

// lcUnread takes the next event, which must be unreadmessagescountupdate.
func (s *stream) lcUnread() lcUnreadData {
	s.t.Helper()
	f := s.expect("unreadmessagescountupdate")
	if !strings.Contains(f.Data, `"conversations":[`) {
		s.t.Errorf("%s: unreadmessagescountupdate without a conversations array: %s", s.name, f.Data)
	}
	return decode[lcUnreadData](s.t, f)
}

// lcUnreadOne takes an unreadmessagescountupdate about exactly one
// conversation, checks its count and mentioned flag, and returns the entry.
func (s *stream) lcUnreadOne(convID string, count int64, mentioned bool) client.UnreadEntry {
	s.t.Helper()
	d := s.lcUnread()
	if len(d.Conversations) != 1 {
		s.t.Fatalf("%s: unread update about %d conversations, want just %s: %+v", s.name, len(d.Conversations), convID, d)
	}
	e := d.Conversations[0]
	if e.ConversationId != convID || e.UnreadMessagesCount != count || e.Mentioned != mentioned {
		s.t.Errorf("%s: unread update %s count %d mentioned %v, want %s count %d mentioned %v",
			s.name, e.ConversationId, e.UnreadMessagesCount, e.Mentioned, convID, count, mentioned)
	}
	return e
}

// lcTextCounted takes a text message event and the unread update that
// follows it for a recipient: the count, and the message as lastMessage.
func (s *stream) lcTextCounted(text string, count int64, mentioned bool) messageData {
	s.t.Helper()
	m := s.expectText(text)
	if m.Mentioned != mentioned {
		s.t.Errorf("%s: message %q mentioned %v, want %v", s.name, text, m.Mentioned, mentioned)
	}
	e := s.lcUnreadOne(m.ConversationID, count, mentioned)
	if e.LastMessage == nil || !sameJSON(s.t, *e.LastMessage, m.Message) {
		s.t.Errorf("%s: unread lastMessage %+v, want the message %+v", s.name, e.LastMessage, m.Message)
	}
	return m
}

// lcWithin returns the next event if one comes within d (checking its id as
// next does), or false.
func (s *stream) lcWithin(d time.Duration) (frame, bool) {
	s.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("%s: the stream ended (%v) while waiting for an event", s.name, s.err)
			}
			if f.Comment != "" {
				continue
			}
			if !f.HasID {
				s.t.Fatalf("%s: %s event without an id", s.name, f.Event)
			}
			epoch, seq := parseEventID(s.t, f.ID)
			if epoch != s.epoch || (f.Event != "reset" && seq != s.lastSeq+1) {
				s.t.Errorf("%s: %s event id %q follows %q: gap or duplicate", s.name, f.Event, f.ID, s.lastID)
			}
			s.lastSeq, s.lastID = seq, f.ID
			return f, true
		case <-timer.C:
			return frame{}, false
		}
	}
}

// lcSweepUntil moves clk on by the offline grace and runs the hub's janitor
// pass, again and again, until s shows an event, and returns it. (The server
// notices a closed stream a moment after the client closed it; the loop
// needs no guess of when.)
func lcSweepUntil(h *harness, clk *fakeClock, s *stream) frame {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		clk.Advance(lcGrace)
		h.srv.Hub().Sweep()
		if f, ok := s.lcWithin(100 * time.Millisecond); ok {
			return f
		}
	}
	h.t.Fatalf("%s: no event within %s of sweeps past the offline grace", s.name, waitTimeout)
	return frame{}
}

// lcOK fails the test unless a generated call answered status.
func lcOK(t *testing.T, what string, status int, r any, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	hr, body := rawOf(r)
	if hr.StatusCode != status {
		t.Fatalf("%s: %d %s, want %d", what, hr.StatusCode, body, status)
	}
}

// lcLogin logs a client in with an offlineMessages mode.
func lcLogin(h *harness, clientID string, offline client.LoginRequestOfflineMessages) *user {
	h.t.Helper()
	r, err := h.c.CreateSessionWithResponse(ctx(h.t), client.LoginRequest{ClientId: clientID, OfflineMessages: &offline})
	lcOK(h.t, "login "+clientID, http.StatusCreated, r, err)
	return &user{h: h, LoginResult: *r.JSON201}
}

// lcStream opens a stream that shows every event, unread-count updates
// included (the lifecycle tests check each of them).
func (u *user) lcStream(opts ...streamOpt) *stream {
	u.h.t.Helper()
	s := u.open(opts...)
	s.keepUnread = true
	return s
}

// lcOpen opens a fresh stream and takes the unread summary that must follow
// hello.
func (u *user) lcOpen(opts ...streamOpt) (*stream, lcUnreadData) {
	u.h.t.Helper()
	s := u.lcStream(opts...)
	if s.Hello.Resumed {
		u.h.t.Fatalf("%s: lcOpen is for fresh streams", u.ClientId)
	}
	return s, s.lcUnread()
}

func lcText(text string) client.SendRequest { return textMsg(text) }

// lcHistory reads a whole conversation as this session.
func (u *user) lcHistory(convID string) []client.Message {
	u.h.t.Helper()
	return *u.history(convID, client.ListMessagesParams{Limit: ptr(int64(1000))}).Messages
}

func lcTexts(ms []client.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, deref(m.Text))
	}
	return out
}

// lcGet reads a conversation as this session.
func (u *user) lcGet(convID string) client.Conversation {
	u.h.t.Helper()
	r, err := u.h.c.GetConversationWithResponse(ctx(u.h.t), convID, u.auth())
	lcOK(u.h.t, u.ClientId+" gets "+convID, http.StatusOK, r, err)
	return *r.JSON200
}

// lcUnreadNow is GET /v1/unread as this session.
func (u *user) lcUnreadNow() []client.UnreadEntry {
	u.h.t.Helper()
	r, err := u.h.c.GetUnreadWithResponse(ctx(u.h.t), u.auth())
	lcOK(u.h.t, u.ClientId+" reads its unread counts", http.StatusOK, r, err)
	if r.JSON200.Conversations == nil {
		u.h.t.Fatalf("GET /v1/unread without conversations: %s", r.Body)
	}
	return *r.JSON200.Conversations
}

// lcRead marks a conversation read (up to messageID, or all when empty).
func (u *user) lcRead(convID, messageID string) []client.UnreadEntry {
	u.h.t.Helper()
	req := client.ReadRequest{}
	if messageID != "" {
		req.MessageId = &messageID
	}
	r, err := u.h.c.MarkReadWithResponse(ctx(u.h.t), convID, req, u.auth())
	lcOK(u.h.t, u.ClientId+" reads "+convID, http.StatusOK, r, err)
	return *r.JSON200.Conversations
}

// lcHoldWill holds a text will message for this session: 202.
func (u *user) lcHoldWill(convID, text string) client.Message {
	u.h.t.Helper()
	req := lcText(text)
	req.Will = ptr(true)
	r, err := u.h.c.SendMessageWithResponse(ctx(u.h.t), convID, req, u.auth())
	lcOK(u.h.t, u.ClientId+" holds a will", http.StatusAccepted, r, err)
	if r.JSON202 == nil {
		u.h.t.Fatalf("will answer %s: not a message", r.Body)
	}
	m := *r.JSON202
	if m.From != u.ClientId || m.ConversationId != convID || deref(m.Text) != text || m.Id != "" {
		u.h.t.Errorf("held will %+v", m)
	}
	return m
}

// lcEntry checks one unread entry.
func lcEntry(t *testing.T, what string, e client.UnreadEntry, count int64, mentioned bool, last client.Message) {
	t.Helper()
	if e.UnreadMessagesCount != count || e.Mentioned != mentioned {
		t.Errorf("%s: unread %d mentioned %v, want %d and %v", what, e.UnreadMessagesCount, e.Mentioned, count, mentioned)
	}
	if e.LastMessage == nil || !sameJSON(t, *e.LastMessage, last) {
		t.Errorf("%s: lastMessage %+v, want %+v", what, e.LastMessage, last)
	}
}

// lcProbe is a client in a conversation with the clients under test; what
// it sends is the next event of each of their streams, which proves that
// nothing else came first. Create it before the streams open (it invites).
type lcProbe struct {
	t    *testing.T
	u    *user
	conv string
	n    int
}

func lcNewProbe(t *testing.T, h *harness, members ...string) *lcProbe {
	t.Helper()
	u := h.login("Probe")
	return &lcProbe{t: t, u: u, conv: u.createConv(members...).Id}
}

// check sends the next probe; each stream must show it next, with its
// unread update.
func (p *lcProbe) check(streams ...*stream) {
	p.t.Helper()
	p.n++
	text := fmt.Sprintf("probe %d", p.n)
	m := p.u.sendText(p.conv, text)
	for _, s := range streams {
		if d := s.expectText(text); d.ConversationID != p.conv {
			p.t.Errorf("%s: probe in %s", s.name, d.ConversationID)
		}
		d := s.lcUnread()
		if len(d.Conversations) != 1 || d.Conversations[0].ConversationId != p.conv ||
			d.Conversations[0].LastMessage == nil || d.Conversations[0].LastMessage.Id != m.Id {
			p.t.Errorf("%s: unread update after the probe %+v", s.name, d)
		}
	}
}

// 1. Mentions: every recipient's message event carries its own mentioned;
// unread entries say mentioned while a mention is unread; the sender is
// never mentioned by his own message; history keeps the mentions.
func TestLifecycleMentions(t *testing.T) {
	h := start(t)
	tom, tomPad, jerry, mary := h.login("Tom"), h.login("Tom"), h.login("Jerry"), h.login("Mary")
	conv := tom.createConv("Jerry", "Mary")
	js, sum := jerry.lcOpen()
	if len(sum.Conversations) != 0 {
		t.Errorf("summary of a client without messages: %+v", sum)
	}
	ms, _ := mary.lcOpen()
	tps, _ := tomPad.lcOpen()

	m1 := tom.send(conv.Id, client.SendRequest{Type: ptr(int64(-1)), Text: ptr("@Jerry @Tom look"), MentionList: &[]string{"Jerry", "Tom"}})
	if !sameJSON(t, deref(m1.MentionList), []string{"Jerry", "Tom"}) || deref(m1.MentionAll) {
		t.Errorf("sent message mentions %v all %v", m1.MentionList, m1.MentionAll)
	}
	if d := js.lcTextCounted("@Jerry @Tom look", 1, true); !sameJSON(t, d.Message, m1) {
		t.Errorf("Jerry got %+v, want %+v", d.Message, m1)
	}
	ms.lcTextCounted("@Jerry @Tom look", 1, false)
	// The sender's other session gets the message and its unread count, 0:
	// sending moved the sender's read position.
	if d := tps.lcTextCounted("@Jerry @Tom look", 0, false); d.Mentioned {
		t.Error("the sender's other session: mentioned by his own message")
	}

	m2 := tom.send(conv.Id, client.SendRequest{Type: ptr(int64(-1)), Text: ptr("@all lunch"), MentionAll: ptr(true)})
	js.lcTextCounted("@all lunch", 2, true)
	ms.lcTextCounted("@all lunch", 2, true)
	if d := tps.lcTextCounted("@all lunch", 0, false); d.Mentioned {
		t.Error("mentionAll mentions the sender's other session")
	}

	un := jerry.lcUnreadNow()
	if len(un) != 1 || un[0].ConversationId != conv.Id {
		t.Fatalf("Jerry's unread %+v", un)
	}
	lcEntry(t, "Jerry's GET /v1/unread", un[0], 2, true, m2)
	if un := tom.lcUnreadNow(); len(un) != 0 {
		t.Errorf("the sender has unread %+v", un)
	}

	// Mary reads up to m1: the mentionAll of m2 is still unread.
	got := mary.lcRead(conv.Id, m1.Id)
	if len(got) != 1 {
		t.Fatalf("read answers %+v", got)
	}
	lcEntry(t, "Mary's read up to m1", got[0], 1, true, m2)
	ms.lcUnreadOne(conv.Id, 1, true)
	mary.lcRead(conv.Id, "")
	ms.lcUnreadOne(conv.Id, 0, false)

	// A fresh stream of another session of Jerry: the summary says mentioned.
	jerryPad := h.login("Jerry")
	jps, sum := jerryPad.lcOpen()
	if len(sum.Conversations) != 1 || sum.Conversations[0].ConversationId != conv.Id {
		t.Fatalf("Jerry's fresh summary %+v", sum)
	}
	lcEntry(t, "Jerry's fresh summary", sum.Conversations[0], 2, true, m2)

	// Once read, a plain message does not say mentioned.
	jerry.lcRead(conv.Id, "")
	js.lcUnreadOne(conv.Id, 0, false)
	jps.lcUnreadOne(conv.Id, 0, false)
	tom.sendText(conv.Id, "plain")
	js.lcTextCounted("plain", 1, false)
	jps.lcTextCounted("plain", 1, false)
	ms.lcTextCounted("plain", 1, false)
	tps.lcTextCounted("plain", 0, false)

	// History keeps mentionList and mentionAll.
	hist := mary.lcHistory(conv.Id)
	if len(hist) != 3 || !sameJSON(t, hist[0], m1) || !sameJSON(t, hist[1], m2) {
		t.Errorf("history %+v", hist)
	}
}

// Edits and recalls change whom a message mentions: unread entries say
// mentioned by what the unread messages say now, also for messages sent
// after the edit.
func TestLifecycleEditedMentions(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js, _ := jerry.lcOpen()
	edit := func(msgID string, req client.EditRequest) {
		t.Helper()
		r, err := h.c.EditMessageWithResponse(ctx(t), conv.Id, msgID, req, tom.auth())
		lcOK(t, "Tom edits", http.StatusOK, r, err)
		js.expect("messageupdate")
	}
	mentioned := func(what string, want bool) {
		t.Helper()
		un := jerry.lcUnreadNow()
		if len(un) != 1 || un[0].Mentioned != want {
			t.Errorf("%s: Jerry's unread %+v, want mentioned %v", what, un, want)
		}
	}

	// A plain message edited to mention Jerry: the conversation had no
	// mentions, and the next send's unread count must know it has one now.
	a := tom.sendText(conv.Id, "a")
	js.lcTextCounted("a", 1, false)
	edit(a.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("@Jerry a"), MentionList: &[]string{"Jerry"}})
	mentioned("edited to mention Jerry", true)
	tom.sendText(conv.Id, "b")
	if m := js.expectText("b"); m.Mentioned {
		t.Error(`"b" mentions Jerry`)
	}
	js.lcUnreadOne(conv.Id, 2, true) // "a" still does, unread

	// Edited to mention nobody, then everyone; recalled.
	edit(a.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("a")})
	mentioned("edited to mention nobody", false)
	edit(a.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("@all a"), MentionAll: ptr(true)})
	mentioned("edited to mention everyone", true)
	r, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, a.Id, tom.auth())
	lcOK(t, "Tom recalls", http.StatusOK, r, err)
	js.expect("messagerecall")
	mentioned("recalled", false)
	tom.sendText(conv.Id, "c")
	js.lcTextCounted("c", 3, false)
}

// A receipt message first delivered by offline push, when its recipient
// logs in and opens a stream, is confirmed to the sender when it is
// flushed there; one without a receipt, or in a group, is not.
func TestReceiptByOfflinePush(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom := h.login("Tom")
	pair := tom.createConv("Jerry")
	group := tom.createConv("Jerry", "Mary")
	ts, _ := tom.lcOpen()
	receipt := func(text string) client.SendRequest {
		r := lcText(text)
		r.Receipt = ptr(true)
		return r
	}
	tom.send(group.Id, receipt("group, receipt"))
	clk.Advance(time.Second)
	m := tom.send(pair.Id, receipt("pair, receipt"))
	clk.Advance(time.Second)
	tom.sendText(pair.Id, "pair, none")

	jerry := lcLogin(h, "Jerry", client.Push) // Jerry was never online
	js := jerry.lcStream()
	for range 3 {
		if d := js.expectMessage(); !d.Offline {
			t.Errorf("%q pushed without offline: true", deref(d.Message.Text))
		}
	}
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{pair.Id, m.Timestamp}) {
		t.Errorf("lastdeliveredatupdate %+v, want %s at %d", d, pair.Id, m.Timestamp)
	}
	// Nothing else came: Jerry's answer is Tom's next event.
	jerry.sendText(pair.Id, "hi")
	ts.lcTextCounted("hi", 1, false)
	if c := tom.lcGet(pair.Id); deref(c.LastDeliveredAt) != m.Timestamp {
		t.Errorf("Tom's view: lastDeliveredAt %d, want %d", deref(c.LastDeliveredAt), m.Timestamp)
	}
}

// A client who left a conversation no longer edits or recalls his
// messages there: NOT_A_MEMBER, and the members hear nothing.
func TestFormerMemberCannotChangeMessages(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry", "Mary")
	m := tom.sendText(conv.Id, "before leaving")
	if r, err := h.c.QuitConversationWithResponse(ctx(t), conv.Id, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("quit: %v %d %s", err, r.StatusCode(), r.Body)
	}
	js, _ := jerry.lcOpen()
	expectProblem(t, "a former member edits", http.StatusForbidden, client.NOTAMEMBER)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("after")}, tom.auth()))
	expectProblem(t, "a former member recalls", http.StatusForbidden, client.NOTAMEMBER)(
		h.c.RecallMessageWithResponse(ctx(t), conv.Id, m.Id, tom.auth()))
	// The master key still may recall it.
	r, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, m.Id, h.master())
	lcOK(t, "the master key recalls", http.StatusOK, r, err)
	js.expect("messagerecall") // the first event Jerry hears since the quit
	if hist := jerry.lcHistory(conv.Id); len(hist) != 1 || !deref(hist[0].Recalled) {
		t.Errorf("history %+v", hist)
	}
}

// 2. Recall and edit: the sender edits (messageupdate, patchedAt) and
// recalls (messagerecall, recalled: true without content); the master key
// recalls; anybody else is refused with FORBIDDEN and nobody hears of it.
func TestLifecycleRecallAndEdit(t *testing.T) {
	h := start(t)
	tom, jerry, mary, spike := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("Spike")
	conv := tom.createConv("Jerry", "Mary")
	m1 := tom.sendText(conv.Id, "tpyo")
	m2 := tom.sendText(conv.Id, "secret")
	m3 := jerry.sendText(conv.Id, "Jerry's")
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()
	ms, _ := mary.lcOpen()
	all := []*stream{ts, js, ms}

	// The sender edits.
	attrs := map[string]any{"edited": true}
	er, err := h.c.EditMessageWithResponse(ctx(t), conv.Id, m1.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("typo"), Attributes: &attrs}, tom.auth())
	lcOK(t, "Tom edits his message", http.StatusOK, er, err)
	edited := *er.JSON200
	if edited.Id != m1.Id || edited.From != "Tom" || deref(edited.Text) != "typo" || edited.Timestamp != m1.Timestamp ||
		edited.PatchedAt == nil || *edited.PatchedAt < m1.Timestamp || deref(edited.Recalled) || !sameJSON(t, deref(edited.Attributes), attrs) {
		t.Errorf("edited message %+v", edited)
	}
	for _, s := range all {
		d := decode[lcChangeData](t, s.expect("messageupdate"))
		if d.ConversationID != conv.Id || !sameJSON(t, d.Message, edited) {
			t.Errorf("%s: messageupdate %+v, want %+v", s.name, d, edited)
		}
	}

	// Nobody else may edit or recall; those refusals tell nobody anything.
	expectProblem(t, "Jerry edits Tom's message", 403, client.FORBIDDEN)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m1.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("mine")}, jerry.auth()))
	expectProblem(t, "Jerry recalls Tom's message", 403, client.FORBIDDEN)(
		h.c.RecallMessageWithResponse(ctx(t), conv.Id, m2.Id, jerry.auth()))
	expectProblem(t, "Mary edits Jerry's message", 403, client.FORBIDDEN)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m3.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("mine")}, mary.auth()))
	if r, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, m2.Id, spike.auth()); err != nil || r.StatusCode() != http.StatusForbidden {
		t.Errorf("a non-member recalls: %v %d %s, want 403", err, r.StatusCode(), r.Body)
	}
	expectProblem(t, "the master key edits (edit is the sender's only)", 403, client.FORBIDDEN)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m1.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("master")}, h.master()))
	expectProblem(t, "edit of an unknown message", 404, client.MESSAGENOTFOUND)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, "nosuchmessage", client.EditRequest{Type: ptr(int64(-1)), Text: ptr("x")}, tom.auth()))
	expectProblem(t, "recall of an unknown message", 404, client.MESSAGENOTFOUND)(
		h.c.RecallMessageWithResponse(ctx(t), conv.Id, "nosuchmessage", tom.auth()))
	expectProblem(t, "edit to an invalid message", 400, client.INVALIDREQUEST)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m1.Id, client.EditRequest{Type: ptr(int64(-1))}, tom.auth()))
	// Through another conversation of Tom's, the message is not found.
	other := tom.createConv("Jerry")
	expectProblem(t, "recall through another conversation", 404, client.MESSAGENOTFOUND)(
		h.c.RecallMessageWithResponse(ctx(t), other.Id, m1.Id, tom.auth()))
	js.expect("invited")
	js.expectJoined(other.Id, "Tom", "Jerry")
	ts.expectJoined(other.Id, "Tom", "Jerry")

	// The sender recalls.
	rr, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, m2.Id, tom.auth())
	lcOK(t, "Tom recalls his message", http.StatusOK, rr, err)
	recalled := *rr.JSON200
	if recalled.Id != m2.Id || !deref(recalled.Recalled) || recalled.Text != nil || recalled.Type != nil || recalled.From != "Tom" {
		t.Errorf("recalled message %+v", recalled)
	}
	for _, s := range all {
		d := decode[lcChangeData](t, s.expect("messagerecall"))
		if d.ConversationID != conv.Id || !sameJSON(t, d.Message, recalled) {
			t.Errorf("%s: messagerecall %+v, want %+v", s.name, d, recalled)
		}
	}
	expectProblem(t, "edit of a recalled message", 403, client.FORBIDDEN)(
		h.c.EditMessageWithResponse(ctx(t), conv.Id, m2.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("back")}, tom.auth()))
	// Recalling again changes nothing and tells nobody.
	rr, err = h.c.RecallMessageWithResponse(ctx(t), conv.Id, m2.Id, tom.auth())
	lcOK(t, "Tom recalls again", http.StatusOK, rr, err)

	// The master key recalls anyone's message.
	rr, err = h.c.RecallMessageWithResponse(ctx(t), conv.Id, m3.Id, h.master())
	lcOK(t, "the master key recalls Jerry's message", http.StatusOK, rr, err)
	for _, s := range all {
		d := decode[lcChangeData](t, s.expect("messagerecall"))
		if d.Message.Id != m3.Id || !deref(d.Message.Recalled) || d.Message.Text != nil {
			t.Errorf("%s: messagerecall %+v", s.name, d)
		}
	}

	// History shows the final state.
	hist := mary.lcHistory(conv.Id)
	if len(hist) != 3 {
		t.Fatalf("history %+v", hist)
	}
	if !sameJSON(t, hist[0], edited) {
		t.Errorf("history of the edited message %+v, want %+v", hist[0], edited)
	}
	for _, m := range hist[1:] {
		if !deref(m.Recalled) || m.Text != nil || m.Type != nil || m.Attributes != nil {
			t.Errorf("history of a recalled message %+v: recalled: true without content", m)
		}
	}
	if !sameJSON(t, hist[1], recalled) {
		t.Errorf("history %+v, recall answered %+v", hist[1], recalled)
	}
	tom.sendText(conv.Id, "the end")
	js.lcTextCounted("the end", 1, false) // Jerry's own m3 moved his read position
	ms.lcTextCounted("the end", 4, false)
}

// 2. A server can disable recall: the sender and the master key are refused;
// editing still works.
func TestLifecycleRecallDisabled(t *testing.T) {
	h := start(t, func(c *server.Config) { c.DisableRecall = true })
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	m := tom.sendText(conv.Id, "forever")
	js, _ := jerry.lcOpen()
	expectProblem(t, "the sender recalls", 403, client.FORBIDDEN)(h.c.RecallMessageWithResponse(ctx(t), conv.Id, m.Id, tom.auth()))
	expectProblem(t, "the master key recalls", 403, client.FORBIDDEN)(h.c.RecallMessageWithResponse(ctx(t), conv.Id, m.Id, h.master()))
	er, err := h.c.EditMessageWithResponse(ctx(t), conv.Id, m.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("for ever")}, tom.auth())
	lcOK(t, "Tom edits", http.StatusOK, er, err)
	if d := decode[lcChangeData](t, js.expect("messageupdate")); deref(d.Message.Text) != "for ever" {
		t.Errorf("messageupdate %+v", d)
	}
	if hist := jerry.lcHistory(conv.Id); len(hist) != 1 || deref(hist[0].Recalled) || deref(hist[0].Text) != "for ever" {
		t.Errorf("history %+v", hist)
	}
}

// 2. A member offline during recall and edit sees the final state in
// history, and resuming within the replay window gets the events, in order.
func TestLifecycleRecallEditWhileOffline(t *testing.T) {
	h := start(t)
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	conv := tom.createConv("Jerry", "Mary")
	js, _ := jerry.lcOpen()
	m1 := tom.sendText(conv.Id, "first")
	m2 := tom.sendText(conv.Id, "second")
	js.lcTextCounted("first", 1, false)
	js.lcTextCounted("second", 2, false)
	cursor := js.lastID
	js.close()

	er, err := h.c.EditMessageWithResponse(ctx(t), conv.Id, m1.Id, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("first, edited")}, tom.auth())
	lcOK(t, "edit", http.StatusOK, er, err)
	rr, err := h.c.RecallMessageWithResponse(ctx(t), conv.Id, m2.Id, tom.auth())
	lcOK(t, "recall", http.StatusOK, rr, err)

	// Jerry (stream gone) and Mary (never had one) read the final state.
	for _, u := range []*user{jerry, mary} {
		hist := u.lcHistory(conv.Id)
		if len(hist) != 2 {
			t.Fatalf("%s: history %+v", u.ClientId, hist)
		}
		if !sameJSON(t, hist[0], *er.JSON200) || hist[0].PatchedAt == nil || deref(hist[0].Text) != "first, edited" {
			t.Errorf("%s: edited message in history %+v", u.ClientId, hist[0])
		}
		if !deref(hist[1].Recalled) || hist[1].Text != nil || hist[1].Id != m2.Id {
			t.Errorf("%s: recalled message in history %+v", u.ClientId, hist[1])
		}
	}

	js = jerry.lcStream(lastEventHeader(cursor))
	if !js.Hello.Resumed {
		t.Fatal("the resumed stream says resumed: false")
	}
	if d := decode[lcChangeData](t, js.expect("messageupdate")); !sameJSON(t, d.Message, *er.JSON200) {
		t.Errorf("replayed messageupdate %+v", d)
	}
	if d := decode[lcChangeData](t, js.expect("messagerecall")); !sameJSON(t, d.Message, *rr.JSON200) {
		t.Errorf("replayed messagerecall %+v", d)
	}
	tom.sendText(conv.Id, "third")
	js.lcTextCounted("third", 3, false)
}

// 3. Transient messages reach online sessions only (a stream that dropped
// less than the grace ago included), are never stored, never unread, never
// offline-pushed.
func TestLifecycleTransient(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry, mary, william := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("William")
	conv := tom.createConv("Jerry", "Mary", "William")
	probe := lcNewProbe(t, h, "Jerry", "Mary", "William")
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()
	ms, _ := mary.lcOpen()
	ws, _ := william.lcOpen()
	r, err := h.c.SubscribePresenceWithResponse(ctx(t), client.SubscribeInputBody{ClientIds: &[]string{"Mary"}}, tom.auth())
	lcOK(t, "Tom watches Mary", http.StatusOK, r, err)

	// Mary's stream is gone past the grace: Tom sees her go offline.
	mCursor := ms.lastID
	ms.close()
	if f := lcSweepUntil(h, clk, ts); f.Event != "presence" || decode[lcPresenceData](t, f) != (lcPresenceData{"Mary", false}) {
		t.Fatalf("Tom got %s %s, want Mary going offline", f.Event, f.Data)
	}
	// William's stream drops too, but he stays within the grace.
	wCursor := ws.lastID
	ws.close()

	req := lcText("typing…")
	req.Transient = ptr(true)
	sr, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, req, tom.auth())
	lcOK(t, "transient send", http.StatusCreated, sr, err)
	tr := *sr.JSON201
	if !deref(tr.Transient) || tr.Id == "" || tr.From != "Tom" {
		t.Errorf("transient message %+v", tr)
	}
	req = lcText("@Jerry psst")
	req.Transient, req.MentionList = ptr(true), &[]string{"Jerry"}
	tr2 := tom.send(conv.Id, req)

	// Jerry gets both, with no unread update: the probe comes next.
	if d := js.expectText("typing…"); !sameJSON(t, d.Message, tr) || d.Mentioned || d.Offline {
		t.Errorf("Jerry's transient event %+v", d)
	}
	if d := js.expectText("@Jerry psst"); !d.Mentioned || !deref(d.Message.Transient) {
		t.Errorf("Jerry's mentioning transient event %+v", d)
	}
	probe.check(js)

	// Never stored, never unread.
	if hist := jerry.lcHistory(conv.Id); len(hist) != 0 {
		t.Errorf("transient messages in history: %+v", hist)
	}
	if hist := h.masterHistoryLC(conv.Id); len(hist) != 0 {
		t.Errorf("transient messages in the master key's history: %+v", hist)
	}
	for _, e := range jerry.lcUnreadNow() {
		if e.ConversationId == conv.Id {
			t.Errorf("transient messages unread: %+v", e)
		}
	}
	if c := jerry.lcGet(conv.Id); deref(c.UnreadMessagesCount) != 0 || c.LastMessageAt != nil {
		t.Errorf("conversation after transient messages: unread %v lastMessageAt %v", c.UnreadMessagesCount, c.LastMessageAt)
	}

	// William, back within the grace, gets them on resume; Mary, back after
	// it, does not.
	ws = william.lcStream(lastEventHeader(wCursor))
	ws.expectText("typing…")
	if d := ws.expectText("@Jerry psst"); d.Mentioned || !sameJSON(t, d.Message, tr2) {
		t.Errorf("William's transient event %+v", d)
	}
	ms = mary.lcStream(lastEventHeader(mCursor))
	if !ms.Hello.Resumed {
		t.Fatal("Mary could not resume")
	}
	for _, s := range []*stream{ws, ms} { // probe 1 first: both were away when it was sent
		s.expectText("probe 1")
		s.lcUnreadOne(probe.conv, 1, false)
	}
	probe.check(ws, ms)

	// An offline-push login gets no transient messages.
	jerryPush := lcLogin(h, "Jerry", client.Push)
	jps := jerryPush.lcStream()
	for i := 1; i <= probe.n; i++ { // the probes are Jerry's unread messages
		if d := jps.expectMessage(); d.ConversationID != probe.conv || !d.Offline {
			t.Errorf("offline push %+v", d)
		}
	}
	probe.check(jps)
}

// masterHistoryLC reads a whole conversation with the master key.
func (h *harness) masterHistoryLC(convID string) []client.Message {
	h.t.Helper()
	r, err := h.c.ListMessagesWithResponse(ctx(h.t), convID, &client.ListMessagesParams{Limit: ptr(int64(1000))}, h.master())
	lcOK(h.t, "master-key history", http.StatusOK, r, err)
	return *r.JSON200.Messages
}

// 4. Receipts in a one-to-one conversation: a receipt message flushed to the
// recipient's stream (live or resumed) or confirmed with delivered sends
// lastdeliveredatupdate to the sender; read sends lastreadatupdate; the
// conversation shows both. Not in groups, not without receipt.
func TestLifecycleReceipts(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	conv := tom.createConv("Jerry")
	group := tom.createConv("Jerry", "Mary")
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()
	receipt := func(text string) client.SendRequest {
		r := lcText(text)
		r.Receipt = ptr(true)
		return r
	}
	tick := func() { clk.Advance(time.Second) } // distinct timestamps

	m1 := tom.send(conv.Id, receipt("with receipt"))
	js.lcTextCounted("with receipt", 1, false)
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{conv.Id, m1.Timestamp}) {
		t.Errorf("lastdeliveredatupdate %+v, want %s at %d", d, conv.Id, m1.Timestamp)
	}

	// Without receipt, nothing: Jerry's answer is Tom's next event.
	tick()
	tom.sendText(conv.Id, "no receipt")
	js.lcTextCounted("no receipt", 2, false)
	tick()
	jerry.sendText(conv.Id, "answer")
	ts.lcTextCounted("answer", 1, false)

	// Jerry's stream is gone: the receipt waits for his confirmation.
	cursor := js.lastID
	js.close()
	tick()
	m4 := tom.send(conv.Id, receipt("while away"))
	if hist := jerry.lcHistory(conv.Id); hist[len(hist)-1].Id != m4.Id {
		t.Fatalf("history does not end with %s", m4.Id)
	}
	dr, err := h.c.MarkDeliveredWithResponse(ctx(t), conv.Id, client.DeliveredRequest{MessageId: &m4.Id}, jerry.auth())
	lcOK(t, "Jerry confirms delivery", http.StatusNoContent, dr, err)
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{conv.Id, m4.Timestamp}) {
		t.Errorf("lastdeliveredatupdate after delivered %+v, want %d", d, m4.Timestamp)
	}
	tick()
	jerry.lcRead(conv.Id, "")
	if d := decode[lcReadData](t, ts.expect("lastreadatupdate")); d != (lcReadData{conv.Id, "Jerry", m4.Timestamp}) {
		t.Errorf("lastreadatupdate %+v, want Jerry at %d", d, m4.Timestamp)
	}
	c := tom.lcGet(conv.Id)
	if deref(c.LastDeliveredAt) != m4.Timestamp || deref(c.LastReadAt) != m4.Timestamp || c.UnreadMessagesCount == nil || *c.UnreadMessagesCount != 0 {
		t.Errorf("Tom's view: lastDeliveredAt %d lastReadAt %d unread %d, want %d, %d, 0",
			deref(c.LastDeliveredAt), deref(c.LastReadAt), deref(c.UnreadMessagesCount), m4.Timestamp, m4.Timestamp)
	}
	// Tom's read position is his last message.
	if c := jerry.lcGet(conv.Id); deref(c.LastReadAt) != m4.Timestamp || deref(c.UnreadMessagesCount) != 0 {
		t.Errorf("Jerry's view: lastReadAt %d unread %d, want %d and 0", deref(c.LastReadAt), deref(c.UnreadMessagesCount), m4.Timestamp)
	}

	// A receipt message replayed to a resumed stream is delivered when it
	// is flushed there.
	tick()
	m5 := tom.send(conv.Id, receipt("replayed"))
	js = jerry.lcStream(lastEventHeader(cursor))
	js.lcTextCounted("while away", 1, false)
	js.lcUnreadOne(conv.Id, 0, false) // his read
	js.lcTextCounted("replayed", 1, false)
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{conv.Id, m5.Timestamp}) {
		t.Errorf("lastdeliveredatupdate after resume %+v, want %d", d, m5.Timestamp)
	}

	// Groups have no receipts.
	tick()
	tom.send(group.Id, receipt("group"))
	js.lcTextCounted("group", 1, false)
	tick()
	dr, err = h.c.MarkDeliveredWithResponse(ctx(t), group.Id, client.DeliveredRequest{}, jerry.auth())
	lcOK(t, "delivered in a group", http.StatusNoContent, dr, err)
	jerry.lcRead(group.Id, "")
	js.lcUnreadOne(group.Id, 0, false)
	mary.sendText(group.Id, "from Mary")
	ts.lcTextCounted("from Mary", 1, false) // nothing came before it
	js.lcTextCounted("from Mary", 1, false)

	// conversations/read tells the other member of a one-to-one
	// conversation too, and only that one.
	tick()
	m6 := tom.sendText(conv.Id, "read them all")
	js.lcTextCounted("read them all", 2, false) // m5 is unread too
	mr, err := h.c.MarkManyReadWithResponse(ctx(t), client.ReadManyRequest{ConversationIds: &[]string{group.Id, conv.Id}}, jerry.auth())
	lcOK(t, "conversations/read", http.StatusOK, mr, err)
	js.lcUnread()
	if d := decode[lcReadData](t, ts.expect("lastreadatupdate")); d != (lcReadData{conv.Id, "Jerry", m6.Timestamp}) {
		t.Errorf("lastreadatupdate after conversations/read %+v, want Jerry at %d", d, m6.Timestamp)
	}
	mary.sendText(group.Id, "again")
	ts.lcTextCounted("again", 2, false)
	if c := tom.lcGet(group.Id); c.LastDeliveredAt != nil || c.LastReadAt != nil {
		t.Errorf("a group shows lastDeliveredAt %v lastReadAt %v", c.LastDeliveredAt, c.LastReadAt)
	}
}

// Receipts in a temporary conversation of two members, which is
// one-to-one as a normal conversation of two (the README's
// lastdeliveredatupdate and lastreadatupdate; the guides list receipts as
// supported in temporary conversations): a receipt message flushed live,
// confirmed with delivered, or flushed as an offline message when its
// recipient logs in, tells the sender; a read tells the other member; the
// conversation shows both positions. A temporary conversation of three has
// no receipts.
func TestTemporaryReceipts(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	temporary := kind(client.CreateConversationRequestKindTemporary)
	pair := tom.create(client.CreateConversationRequest{Kind: temporary, Members: &[]string{"Jerry"}})
	trio := tom.create(client.CreateConversationRequest{Kind: temporary, Members: &[]string{"Jerry", "Mary"}})
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()
	receipt := func(text string) client.SendRequest {
		r := lcText(text)
		r.Receipt = ptr(true)
		return r
	}
	tick := func() { clk.Advance(time.Second) }

	m1 := tom.send(pair.Id, receipt("live"))
	js.lcTextCounted("live", 1, false)
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{pair.Id, m1.Timestamp}) {
		t.Errorf("lastdeliveredatupdate %+v, want %s at %d", d, pair.Id, m1.Timestamp)
	}

	// Confirmed through delivered, then read.
	js.close()
	tick()
	m2 := tom.send(pair.Id, receipt("while away"))
	dr, err := h.c.MarkDeliveredWithResponse(ctx(t), pair.Id, client.DeliveredRequest{MessageId: &m2.Id}, jerry.auth())
	lcOK(t, "Jerry confirms delivery", http.StatusNoContent, dr, err)
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{pair.Id, m2.Timestamp}) {
		t.Errorf("lastdeliveredatupdate after delivered %+v, want %d", d, m2.Timestamp)
	}
	tick()
	jerry.lcRead(pair.Id, "")
	if d := decode[lcReadData](t, ts.expect("lastreadatupdate")); d != (lcReadData{pair.Id, "Jerry", m2.Timestamp}) {
		t.Errorf("lastreadatupdate %+v, want Jerry at %d", d, m2.Timestamp)
	}
	if c := tom.lcGet(pair.Id); deref(c.LastDeliveredAt) != m2.Timestamp || deref(c.LastReadAt) != m2.Timestamp {
		t.Errorf("Tom's view: lastDeliveredAt %d lastReadAt %d, want %d", deref(c.LastDeliveredAt), deref(c.LastReadAt), m2.Timestamp)
	}
	if c := jerry.lcGet(pair.Id); deref(c.LastReadAt) != m2.Timestamp {
		t.Errorf("Jerry's view: lastReadAt %d, want Tom's %d", deref(c.LastReadAt), m2.Timestamp)
	}

	// Delivered by offline push when Jerry logs in again.
	tick()
	m3 := tom.send(pair.Id, receipt("pushed"))
	pushed := lcLogin(h, "Jerry", client.Push).lcStream()
	if d := pushed.expectMessage(); !d.Offline || d.Message.Id != m3.Id {
		t.Errorf("pushed %+v, want %s offline", d, m3.Id)
	}
	if d := decode[lcDeliveredData](t, ts.expect("lastdeliveredatupdate")); d != (lcDeliveredData{pair.Id, m3.Timestamp}) {
		t.Errorf("lastdeliveredatupdate by offline push %+v, want %d", d, m3.Timestamp)
	}

	// Three members: no receipt, no read position. Jerry's answer in the
	// pair is Tom's next event.
	tick()
	tom.send(trio.Id, receipt("to both"))
	pushed.lcTextCounted("to both", 1, false)
	dr, err = h.c.MarkDeliveredWithResponse(ctx(t), trio.Id, client.DeliveredRequest{}, jerry.auth())
	lcOK(t, "delivered in a temporary conversation of three", http.StatusNoContent, dr, err)
	jerry.lcRead(trio.Id, "")
	pushed.lcUnreadOne(trio.Id, 0, false)
	tick()
	jerry.sendText(pair.Id, "answer")
	ts.lcTextCounted("answer", 1, false)
	if c := tom.lcGet(trio.Id); c.LastDeliveredAt != nil || c.LastReadAt != nil {
		t.Errorf("a temporary conversation of three shows lastDeliveredAt %v lastReadAt %v", c.LastDeliveredAt, c.LastReadAt)
	}
}

// 5. Unread counts: every new message gives each other member's sessions
// their count; own messages are never unread; read (up to a message or all)
// and conversations/read reset every session of the reader; GET /v1/unread
// and unreadMessagesCount agree.
func TestLifecycleUnreadCounts(t *testing.T) {
	h := start(t)
	tom, mary := h.login("Tom"), h.login("Mary")
	jerryPhone, jerryPad := h.login("Jerry", "Mobile"), h.login("Jerry", "Pad")
	conv := tom.createConv("Jerry", "Mary")
	other := mary.createConv("Jerry")
	ts, _ := tom.lcOpen()
	jp, _ := jerryPhone.lcOpen()
	jd, _ := jerryPad.lcOpen()
	ms, _ := mary.lcOpen()

	var sent []client.Message
	for i := 1; i <= 3; i++ {
		text := fmt.Sprintf("m%d", i)
		sent = append(sent, tom.sendText(conv.Id, text))
		for _, s := range []*stream{jp, jd, ms} {
			s.lcTextCounted(text, int64(i), false)
		}
	}
	if c := tom.lcGet(conv.Id); deref(c.UnreadMessagesCount) != 0 {
		t.Errorf("the sender's unread count %v, want 0", c.UnreadMessagesCount)
	}
	if c := jerryPad.lcGet(conv.Id); deref(c.UnreadMessagesCount) != 3 {
		t.Errorf("Jerry's unreadMessagesCount %v, want 3", c.UnreadMessagesCount)
	}
	qr, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Where: ptr(`{"id":"` + conv.Id + `"}`)}, jerryPad.auth())
	lcOK(t, "query", http.StatusOK, qr, err)
	if res := deref(qr.JSON200.Results); len(res) != 1 || deref(res[0].UnreadMessagesCount) != 3 {
		t.Errorf("query results %+v, want the conversation with unreadMessagesCount 3", res)
	}
	un := jerryPhone.lcUnreadNow()
	if len(un) != 1 || un[0].ConversationId != conv.Id {
		t.Fatalf("Jerry's unread %+v", un)
	}
	lcEntry(t, "GET /v1/unread", un[0], 3, false, sent[2])

	// Jerry answers: his own message moves his read position.
	jerryPhone.sendText(conv.Id, "answer")
	ts.lcTextCounted("answer", 1, false)
	ms.lcTextCounted("answer", 4, false)
	jd.lcTextCounted("answer", 0, false) // his own message: his other session goes to 0
	if c := jerryPad.lcGet(conv.Id); deref(c.UnreadMessagesCount) != 0 {
		t.Errorf("after his own message Jerry's unread is %v", c.UnreadMessagesCount)
	}
	if un := jerryPad.lcUnreadNow(); len(un) != 0 {
		t.Errorf("after his own message Jerry's unread %+v", un)
	}

	// Read on the phone resets the pad too.
	m4 := tom.sendText(conv.Id, "m4")
	jp.lcTextCounted("m4", 1, false)
	jd.lcTextCounted("m4", 1, false)
	ms.lcTextCounted("m4", 5, false)
	got := jerryPhone.lcRead(conv.Id, "")
	if len(got) != 1 {
		t.Fatalf("read answered %+v", got)
	}
	lcEntry(t, "read answer", got[0], 0, false, m4)
	for _, s := range []*stream{jp, jd} {
		e := s.lcUnreadOne(conv.Id, 0, false)
		if e.LastMessage == nil || e.LastMessage.Id != m4.Id {
			t.Errorf("%s: unread update after read %+v", s.name, e)
		}
	}

	// Read up to a message; a read position never moves back.
	m5 := tom.sendText(conv.Id, "m5")
	tom.sendText(conv.Id, "m6")
	for _, text := range []string{"m5", "m6"} {
		jp.expectText(text)
		jp.lcUnread()
		jd.expectText(text)
		jd.lcUnread()
	}
	ms.lcTextCounted("m5", 6, false)
	ms.lcTextCounted("m6", 7, false)
	if got := mary.lcRead(conv.Id, m5.Id); len(got) != 1 || got[0].UnreadMessagesCount != 1 {
		t.Errorf("read up to m5 answered %+v, want 1 unread", got)
	}
	ms.lcUnreadOne(conv.Id, 1, false)
	if got := mary.lcRead(conv.Id, sent[0].Id); len(got) != 1 || got[0].UnreadMessagesCount != 1 {
		t.Errorf("read up to an older message answered %+v, want still 1 unread", got)
	}
	ms.lcUnreadOne(conv.Id, 1, false)
	expectProblem(t, "read up to an unknown message", 404, client.MESSAGENOTFOUND)(
		h.c.MarkReadWithResponse(ctx(t), conv.Id, client.ReadRequest{MessageId: ptr("nosuchmessage")}, mary.auth()))
	expectProblem(t, "a non-member reads", 403, client.NOTAMEMBER)(
		h.c.MarkReadWithResponse(ctx(t), other.Id, client.ReadRequest{}, tom.auth()))

	// conversations/read resets several at once, on every session.
	mary.sendText(other.Id, "o1")
	jp.lcTextCounted("o1", 1, false)
	jd.lcTextCounted("o1", 1, false)
	mr, err := h.c.MarkManyReadWithResponse(ctx(t), client.ReadManyRequest{ConversationIds: &[]string{conv.Id, other.Id}}, jerryPad.auth())
	lcOK(t, "conversations/read", http.StatusOK, mr, err)
	want := map[string]int64{conv.Id: 0, other.Id: 0}
	check := func(what string, es []client.UnreadEntry) {
		t.Helper()
		got := map[string]int64{}
		for _, e := range es {
			got[e.ConversationId] = e.UnreadMessagesCount
		}
		if !sameJSON(t, got, want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	check("conversations/read answer", *mr.JSON200.Conversations)
	check("phone", jp.lcUnread().Conversations)
	check("pad", jd.lcUnread().Conversations)
	if un := jerryPhone.lcUnreadNow(); len(un) != 0 {
		t.Errorf("unread after conversations/read: %+v", un)
	}

	// Tom got nothing but the answer; Mary's message is next.
	mary.sendText(conv.Id, "bye")
	ts.lcTextCounted("bye", 1, false)
}

// 5, 6. A client offline across 50 messages in 3 conversations: a fresh
// stream gets the exact unread summary (counts, mentioned, lastMessage),
// GET /v1/unread agrees; a session logged in with offlineMessages push gets
// exactly the 20 newest unread messages per conversation, oldest first,
// offline: true, instead of the summary.
func TestLifecycleOfflineAcrossManyMessages(t *testing.T) {
	h := start(t)
	tom, mary, jerry := h.login("Tom"), h.login("Mary"), h.login("Jerry")
	a := tom.createConv("Jerry")           // one-to-one
	b := tom.createConv("Jerry", "Mary")   // group
	c := mary.createConv("Jerry", "Spike") // another group
	js, _ := jerry.lcOpen()
	js.close() // Jerry was online once; now he is gone

	// 50 messages, interleaved: 30 in a, 12 in b (the 3rd mentions Jerry), 8 in c.
	var order []string
	for i := 0; i < 30; i++ {
		order = append(order, a.Id)
	}
	for i := 0; i < 12; i++ {
		order = append(order, b.Id)
	}
	for i := 0; i < 8; i++ {
		order = append(order, c.Id)
	}
	rand.New(rand.NewSource(5)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	sent := map[string][]client.Message{}
	for i, id := range order {
		req := lcText(fmt.Sprintf("offline %d", i))
		if id == b.Id && len(sent[b.Id]) == 2 {
			req.MentionList = &[]string{"Jerry"}
		}
		from := tom
		if id == c.Id {
			from = mary
		}
		sent[id] = append(sent[id], from.send(id, req))
	}
	want := map[string]struct {
		n         int64
		mentioned bool
	}{a.Id: {30, false}, b.Id: {12, true}, c.Id: {8, false}}
	checkSummary := func(what string, es []client.UnreadEntry) {
		t.Helper()
		if len(es) != 3 {
			t.Errorf("%s: %d conversations, want 3: %+v", what, len(es), es)
		}
		seen := map[string]bool{}
		for _, e := range es {
			w, ok := want[e.ConversationId]
			if !ok || seen[e.ConversationId] {
				t.Errorf("%s: unexpected entry %+v", what, e)
				continue
			}
			seen[e.ConversationId] = true
			ms := sent[e.ConversationId]
			lcEntry(t, what+" "+e.ConversationId, e, w.n, w.mentioned, ms[len(ms)-1])
		}
	}

	js, sum := jerry.lcOpen()
	checkSummary("fresh stream summary", sum.Conversations)
	checkSummary("GET /v1/unread", jerry.lcUnreadNow())
	for id, w := range want {
		if c := jerry.lcGet(id); deref(c.UnreadMessagesCount) != w.n {
			t.Errorf("%s: unreadMessagesCount %v, want %d", id, c.UnreadMessagesCount, w.n)
		}
	}

	// With offlineMessages push: the newest 20 per conversation, oldest
	// first, and no summary.
	jerryPush := lcLogin(h, "Jerry", client.Push)
	ps := jerryPush.lcStream()
	checkPush := func(ps *stream, convs ...string) {
		t.Helper()
		wantMsgs := map[string][]client.Message{}
		total := 0
		for _, id := range convs {
			ms := sent[id]
			wantMsgs[id] = ms[max(0, len(ms)-20):]
			total += len(wantMsgs[id])
		}
		got := map[string][]client.Message{}
		var last int64
		for i := 0; i < total; i++ {
			d := ps.expectMessage()
			if !d.Offline {
				t.Errorf("pushed message %q without offline: true", deref(d.Message.Text))
			}
			if d.Message.Timestamp < last {
				t.Errorf("pushed message %q is older than the one before it", deref(d.Message.Text))
			}
			last = d.Message.Timestamp
			wantMention := d.ConversationID == b.Id && d.Message.Id == sent[b.Id][2].Id
			if d.Mentioned != wantMention {
				t.Errorf("pushed message %q mentioned %v, want %v", deref(d.Message.Text), d.Mentioned, wantMention)
			}
			got[d.ConversationID] = append(got[d.ConversationID], d.Message)
		}
		for _, id := range convs {
			if !sameJSON(t, got[id], wantMsgs[id]) {
				t.Errorf("pushed for %s: %v, want %v", id, lcTexts(got[id]), lcTexts(wantMsgs[id]))
			}
		}
	}
	checkPush(ps, a.Id, b.Id, c.Id)

	// Nothing else came: the next live message is the next event of both,
	// not offline.
	tom.sendText(a.Id, "live")
	for _, s := range []*stream{js, ps} {
		if d := s.lcTextCounted("live", 31, false); d.Offline {
			t.Errorf("%s: a live message says offline: true", s.name)
		}
	}

	// Jerry reads a on the push session: a fresh push stream then gets only
	// b and c.
	jerryPush.lcRead(a.Id, "")
	js.lcUnreadOne(a.Id, 0, false)
	ps.lcUnreadOne(a.Id, 0, false)
	ps = jerryPush.lcStream()
	checkPush(ps, b.Id, c.Id)
	mary.sendText(c.Id, "live 2")
	ps.lcTextCounted("live 2", 9, false)
}
