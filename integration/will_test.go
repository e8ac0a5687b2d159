package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// Will messages and presence (README, "The event stream"; the OpenAPI
// document's sendMessage and presence operations; issue 5, items 7 and 8).
// Most tests run the server on an fakeClock and drive the hub's janitor with
// Hub().Sweep(); TestWillFiresAfterGrace runs on the real clock and the real
// janitor.

// lcExpectWill checks that f is the will message: a normal message of from
// in convID, and returns it.
func lcExpectWill(t *testing.T, f frame, from, convID, text string) messageData {
	t.Helper()
	if f.Event != "message" {
		t.Fatalf("got %s %s, want the will message %q", f.Event, f.Data, text)
	}
	d := decode[messageData](t, f)
	m := d.Message
	if d.ConversationID != convID || m.ConversationId != convID || m.From != from || deref(m.Text) != text ||
		m.Id == "" || m.Timestamp <= 0 || d.Offline || deref(m.Transient) {
		t.Errorf("will message %+v, want %q from %s in %s", d, text, from, convID)
	}
	return d
}

// lcWhoIsOnline is GET /v1/clients/online.
func lcWhoIsOnline(t *testing.T, h *harness, auth client.RequestEditorFn, ids ...string) map[string]bool {
	t.Helper()
	r, err := h.c.OnlineClientsWithResponse(ctx(t), &client.OnlineClientsParams{Ids: ptr(strings.Join(ids, ","))}, auth)
	lcOK(t, "who is online", http.StatusOK, r, err)
	return r.JSON200.Online
}

// 7. A will fires after the offline grace, on the real clock and janitor:
// held (202) and invisible until then; then a normal message, stored once,
// delivered and counted unread; never again.
func TestWillFiresAfterGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	h := start(t, func(c *server.Config) { c.OfflineGrace = grace })
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js, _ := jerry.lcOpen()
	ts, _ := tom.lcOpen()
	r, err := h.c.SubscribePresenceWithResponse(ctx(t), client.SubscribeInputBody{ClientIds: &[]string{"Tom"}}, jerry.auth())
	lcOK(t, "Jerry watches Tom", http.StatusOK, r, err)

	tom.lcHoldWill(conv.Id, "Tom dropped")
	if hist := jerry.lcHistory(conv.Id); len(hist) != 0 {
		t.Errorf("a held will is in history: %+v", hist)
	}
	if un := jerry.lcUnreadNow(); len(un) != 0 {
		t.Errorf("a held will is unread: %+v", un)
	}

	dropped := time.Now()
	ts.close()
	if d := decode[lcPresenceData](t, js.expect("presence")); d != (lcPresenceData{"Tom", false}) {
		t.Errorf("presence %+v, want Tom offline", d)
	}
	will := lcExpectWill(t, js.next(), "Tom", conv.Id, "Tom dropped")
	if gone := time.Since(dropped); gone < grace {
		t.Errorf("the will came %s after the stream dropped, before the grace of %s", gone, grace)
	}
	js.lcUnreadOne(conv.Id, 1, false)
	if hist := jerry.lcHistory(conv.Id); len(hist) != 1 || !sameJSON(t, hist[0], will.Message) {
		t.Errorf("history %+v, want just the will %+v", hist, will.Message)
	}

	// Tom comes back and drops again: the will went already.
	ts, _ = tom.lcOpen()
	if d := decode[lcPresenceData](t, js.expect("presence")); d != (lcPresenceData{"Tom", true}) {
		t.Errorf("presence %+v, want Tom online", d)
	}
	ts.close()
	if d := decode[lcPresenceData](t, js.expect("presence")); d != (lcPresenceData{"Tom", false}) {
		t.Errorf("presence %+v, want Tom offline", d)
	}
	tom.sendText(conv.Id, "after")
	js.lcTextCounted("after", 2, false)
	if hist := jerry.lcHistory(conv.Id); len(hist) != 2 {
		t.Errorf("history %v, want the will and after", lcTexts(hist))
	}
}

// 7. One will per session: a newer one replaces the older (even in another
// conversation); another session's will is its own, and goes only when that
// session drops. Wills are refused where they cannot go.
func TestWillReplacedAndOnePerSession(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, tomPad, jerry, mary := h.login("Tom"), h.login("Tom"), h.login("Jerry"), h.login("Mary")
	a := tom.createConv("Jerry")
	b := tom.createConv("Jerry", "Mary")
	js, _ := jerry.lcOpen()
	ts, _ := tom.lcOpen()
	tps, _ := tomPad.lcOpen()

	tom.lcHoldWill(a.Id, "will 1")
	tom.lcHoldWill(b.Id, "will 2") // replaces will 1
	tomPad.lcHoldWill(a.Id, "the pad's will")

	// Refusals.
	notMine := mary.createConv("Jerry")
	js.expect("invited")
	js.expectJoined(notMine.Id, "Mary", "Jerry")
	req := lcText("x")
	req.Will = ptr(true)
	expectProblem(t, "a will into a conversation of others", 403, client.NOTAMEMBER)(
		h.c.SendMessageWithResponse(ctx(t), notMine.Id, req, tom.auth()))
	req.Transient = ptr(true)
	expectProblem(t, "a transient will", 400, client.INVALIDREQUEST)(
		h.c.SendMessageWithResponse(ctx(t), a.Id, req, tom.auth()))

	ts.close()
	lcExpectWill(t, lcSweepUntil(h, clk, js), "Tom", b.Id, "will 2")
	js.lcUnreadOne(b.Id, 1, false)

	// The pad is online: its will stays held however long Tom's first
	// session is gone.
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()
	tomPad.sendText(a.Id, "still here")
	js.lcTextCounted("still here", 1, false)
	tps.expectText("will 2") // Tom's other sessions see his will like any message of his

	tps.close()
	lcExpectWill(t, lcSweepUntil(h, clk, js), "Tom", a.Id, "the pad's will")
	js.lcUnreadOne(a.Id, 2, false)
	if got := lcTexts(jerry.lcHistory(a.Id)); !sameJSON(t, got, []string{"still here", "the pad's will"}) {
		t.Errorf("history of a: %v; will 1 was replaced and must never go", got)
	}
	if got := lcTexts(jerry.lcHistory(b.Id)); !sameJSON(t, got, []string{"will 2"}) {
		t.Errorf("history of b: %v", got)
	}
}

// 7. A logout discards the will: nothing is sent, however long the session
// stays away.
func TestWillDiscardedOnLogout(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, tomPad, jerry := h.login("Tom", "Web"), h.login("Tom", "Pad"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js, _ := jerry.lcOpen()
	ts, _ := tom.lcOpen()
	tom.lcHoldWill(conv.Id, "should never go")
	// The pad also holds one, and only drops its stream.
	tomPad.lcHoldWill(conv.Id, "the pad's will")

	r, err := h.c.DeleteCurrentSessionWithResponse(ctx(t), tom.auth())
	lcOK(t, "Tom logs out", http.StatusNoContent, r, err)
	ts.expectEOF()
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()

	// The pad (never had a stream) dropped abruptly: its will goes, the
	// logged-out session's does not.
	lcExpectWill(t, lcSweepUntil(h, clk, js), "Tom", conv.Id, "the pad's will")
	js.lcUnreadOne(conv.Id, 1, false)
	tomPad.sendText(conv.Id, "probe")
	js.lcTextCounted("probe", 2, false)
	if got := lcTexts(jerry.lcHistory(conv.Id)); !sameJSON(t, got, []string{"the pad's will", "probe"}) {
		t.Errorf("history %v: a logged-out session's will went", got)
	}
	req := lcText("late")
	req.Will = ptr(true)
	expectProblem(t, "a will after logout", 401, client.UNAUTHORIZED)(h.c.SendMessageWithResponse(ctx(t), conv.Id, req, tom.auth()))

	// Nor after a restart (sweeps past the grace; the second restart waits
	// for any will being sent).
	h2 := h.restart(lcWithClock(clk))
	clk.Advance(3 * lcGrace)
	h2.srv.Hub().Sweep()
	h3 := h2.restart(lcWithClock(clk))
	if got := lcTexts(jerry.on(h3).lcHistory(conv.Id)); !sameJSON(t, got, []string{"the pad's will", "probe"}) {
		t.Errorf("history after restarts %v: a logged-out session's will went", got)
	}
}

// 7. A shutdown right as a will is being sent waits for it: no error, the
// will is in history once, and the next server does not send it again.
func TestWillSentDuringShutdown(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	tom.lcHoldWill(conv.Id, "Tom's will") // Tom never opens a stream
	clk.Advance(lcGrace)
	h.srv.Hub().Sweep()               // the will is being sent…
	h2 := h.restart(lcWithClock(clk)) // …as the server shuts down
	clk.Advance(3 * lcGrace)
	h2.srv.Hub().Sweep()
	h3 := h2.restart(lcWithClock(clk))
	if got := lcTexts(jerry.on(h3).lcHistory(conv.Id)); !sameJSON(t, got, []string{"Tom's will"}) {
		t.Errorf("history %v, want the will once", got)
	}
}

// 7. A session replaced by a newer login with the same tag did not drop
// abruptly either: its will is discarded, also after a restart.
func TestWillDiscardedOnConflict(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom", "Web"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	ts, _ := tom.lcOpen()
	tom.lcHoldWill(conv.Id, "should never go")
	newTom := h.login("Tom", "Web")
	ts.expect("conflict")
	ts.expectEOF()

	// Sweeps past the grace, and a restart (which waits for any will
	// being sent) in between.
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()
	h2 := h.restart(lcWithClock(clk))
	clk.Advance(3 * lcGrace)
	h2.srv.Hub().Sweep()
	h3 := h2.restart(lcWithClock(clk))

	jerry3 := jerry.on(h3)
	js, sum := jerry3.lcOpen()
	if len(sum.Conversations) != 0 {
		t.Errorf("Jerry has unread messages: %+v", sum)
	}
	newTom.on(h3).sendText(conv.Id, "probe")
	js.lcTextCounted("probe", 1, false)
	if got := lcTexts(jerry3.lcHistory(conv.Id)); !sameJSON(t, got, []string{"probe"}) {
		t.Errorf("history %v: a replaced session's will went", got)
	}
}

// 7. A session that reconnects within the grace did not drop: no will. The
// will stays held, and goes when the session really drops.
func TestWillNotSentOnReconnectWithinGrace(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	js, _ := jerry.lcOpen()
	ts, _ := tom.lcOpen()
	tom.lcHoldWill(conv.Id, "Tom's will")

	// Resume within the grace.
	cursor := ts.lastID
	ts.close()
	clk.Advance(lcGrace - 100*time.Millisecond)
	h.srv.Hub().Sweep()
	ts = tom.lcStream(lastEventHeader(cursor))
	if !ts.Hello.Resumed {
		t.Fatal("Tom could not resume")
	}
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()
	// A fresh stream (no Last-Event-ID) within the grace is a reconnect too.
	ts.close()
	ts, _ = tom.lcOpen()
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()

	tom.sendText(conv.Id, "still here")
	js.lcTextCounted("still here", 1, false)
	if got := lcTexts(jerry.lcHistory(conv.Id)); !sameJSON(t, got, []string{"still here"}) {
		t.Errorf("history %v: the will went though Tom reconnected", got)
	}

	ts.close()
	lcExpectWill(t, lcSweepUntil(h, clk, js), "Tom", conv.Id, "Tom's will")
	js.lcUnreadOne(conv.Id, 2, false)
}

// 7. A will survives a restart: the server shuts down while the session
// holds a will and its stream is open; the new server (same database) sends
// the will once the session has not come back within the grace: to the
// other member's stream and into history, once, also across a further
// restart.
func TestWillSurvivesRestart(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()
	tom.lcHoldWill(conv.Id, "Tom's will")

	h2 := h.restart(lcWithClock(clk))
	ts.expectEOF()
	js.expectEOF()
	jerry2 := jerry.on(h2)
	js, sum := jerry2.lcOpen()
	if len(sum.Conversations) != 0 {
		t.Errorf("summary before the will: %+v", sum)
	}
	// Not before the grace.
	clk.Advance(lcGrace - 100*time.Millisecond)
	h2.srv.Hub().Sweep()
	if f, ok := js.lcWithin(200 * time.Millisecond); ok {
		t.Fatalf("got %s %s before the grace", f.Event, f.Data)
	}
	will := lcExpectWill(t, lcSweepUntil(h2, clk, js), "Tom", conv.Id, "Tom's will")
	js.lcUnreadOne(conv.Id, 1, false)
	if hist := jerry2.lcHistory(conv.Id); len(hist) != 1 || !sameJSON(t, hist[0], will.Message) {
		t.Errorf("history %+v, want the will", hist)
	}

	// Sent once: another restart, Tom still away, sends nothing more.
	h3 := h2.restart(lcWithClock(clk))
	jerry3, tom3 := jerry.on(h3), tom.on(h3)
	js, sum = jerry3.lcOpen()
	if len(sum.Conversations) != 1 || sum.Conversations[0].UnreadMessagesCount != 1 {
		t.Errorf("summary %+v", sum)
	}
	clk.Advance(3 * lcGrace)
	h3.srv.Hub().Sweep()
	tom3.sendText(conv.Id, "back") // Tom's session survived: only his stream dropped
	js.lcTextCounted("back", 2, false)
	if got := lcTexts(jerry3.lcHistory(conv.Id)); !sameJSON(t, got, []string{"Tom's will", "back"}) {
		t.Errorf("history %v", got)
	}
}

// 7. A session that reconnects after the restart within the grace did not
// drop: no will; it goes only once the session really drops.
func TestWillRestartThenReconnect(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	ts, _ := tom.lcOpen()
	tom.lcHoldWill(conv.Id, "Tom's will")
	cursor := ts.lastID

	h2 := h.restart(lcWithClock(clk))
	ts.expectEOF()
	tom2, jerry2 := tom.on(h2), jerry.on(h2)
	clk.Advance(lcGrace / 2)
	h2.srv.Hub().Sweep()
	ts = tom2.lcStream(lastEventHeader(cursor)) // a cursor of the old server: reset, then the summary
	if ts.Hello.Resumed {
		t.Error("a cursor from before the restart resumed")
	}
	ts.expect("reset")
	ts.lcUnread()
	js, _ := jerry2.lcOpen()
	clk.Advance(3 * lcGrace)
	h2.srv.Hub().Sweep()

	tom2.sendText(conv.Id, "I'm back")
	js.lcTextCounted("I'm back", 1, false)
	if got := lcTexts(jerry2.lcHistory(conv.Id)); !sameJSON(t, got, []string{"I'm back"}) {
		t.Errorf("history %v: the will went though Tom reconnected", got)
	}

	ts.close()
	lcExpectWill(t, lcSweepUntil(h2, clk, js), "Tom", conv.Id, "Tom's will")
	js.lcUnreadOne(conv.Id, 2, false)
}

// 8. Presence: GET /v1/clients/online; subscribe answers the status now;
// presence events when a watched client's first session comes online and
// when its last goes offline after the grace (or logs out); nothing for a
// reconnect within the grace or for a session while another is online.
func TestPresence(t *testing.T) {
	clk := newFakeClock()
	h := start(t, lcWithClock(clk))
	tom, jerry, mary1, mary2 := h.login("Tom"), h.login("Jerry"), h.login("Mary"), h.login("Mary")
	mt := mary1.createConv("Tom")
	probe := lcNewProbe(t, h, "Tom")
	ts, _ := tom.lcOpen()
	js, _ := jerry.lcOpen()

	want := map[string]bool{"Jerry": true, "Mary": false, "Nobody": false}
	if got := lcWhoIsOnline(t, h, tom.auth(), "Jerry", "Mary", "Nobody"); !sameJSON(t, got, want) {
		t.Errorf("online %v, want %v", got, want)
	}
	if got := lcWhoIsOnline(t, h, h.master(), "Jerry", "Mary", "Nobody"); !sameJSON(t, got, want) {
		t.Errorf("online (master key) %v, want %v", got, want)
	}
	sr, err := h.c.SubscribePresenceWithResponse(ctx(t), client.SubscribeInputBody{ClientIds: &[]string{"Mary", "Jerry"}}, tom.auth())
	lcOK(t, "Tom watches Mary and Jerry", http.StatusOK, sr, err)
	if got := sr.JSON200.Online; !sameJSON(t, got, map[string]bool{"Mary": false, "Jerry": true}) {
		t.Errorf("subscribe answered %v", got)
	}
	expectPresence := func(who string, online bool) {
		t.Helper()
		if d := decode[lcPresenceData](t, ts.expect("presence")); d != (lcPresenceData{who, online}) {
			t.Errorf("presence %+v, want %s online %v", d, who, online)
		}
	}

	// Mary's first session comes online: one event; her second: none.
	ms1, _ := mary1.lcOpen()
	expectPresence("Mary", true)
	ms2, _ := mary2.lcOpen()
	probe.check(ts)

	// Mary's first session drops for good (its will shows when the sweep
	// saw it gone): she is still online through the second, nothing said.
	mary1.lcHoldWill(mt.Id, "Mary's first session is gone")
	ms1.close()
	lcExpectWill(t, lcSweepUntil(h, clk, ts), "Mary", mt.Id, "Mary's first session is gone")
	ts.lcUnreadOne(mt.Id, 1, false)
	if !lcWhoIsOnline(t, h, tom.auth(), "Mary")["Mary"] {
		t.Error("Mary offline while a session of hers has a stream")
	}

	// Her last session drops: online within the grace, then offline, said once.
	ms2.close()
	if !lcWhoIsOnline(t, h, tom.auth(), "Mary")["Mary"] {
		t.Error("Mary offline within the grace")
	}
	if f := lcSweepUntil(h, clk, ts); f.Event != "presence" || decode[lcPresenceData](t, f) != (lcPresenceData{"Mary", false}) {
		t.Fatalf("got %s %s, want Mary offline", f.Event, f.Data)
	}
	if lcWhoIsOnline(t, h, tom.auth(), "Mary")["Mary"] {
		t.Error("Mary online after the grace")
	}
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()
	probe.check(ts)

	// Jerry's stream drops and comes back within the grace: nothing said.
	cursor := js.lastID
	js.close()
	clk.Advance(lcGrace / 2)
	h.srv.Hub().Sweep()
	js = jerry.lcStream(lastEventHeader(cursor))
	clk.Advance(3 * lcGrace)
	h.srv.Hub().Sweep()
	probe.check(ts)

	// A logout of the last session is offline at once.
	lr, err := h.c.DeleteCurrentSessionWithResponse(ctx(t), jerry.auth())
	lcOK(t, "Jerry logs out", http.StatusNoContent, lr, err)
	expectPresence("Jerry", false)
	if lcWhoIsOnline(t, h, tom.auth(), "Jerry")["Jerry"] {
		t.Error("Jerry online after logging out")
	}
	js.expectEOF()

	// Mary comes back: online again.
	mary2.lcOpen()
	expectPresence("Mary", true)
	probe.check(ts)

	// A session that never opened a stream is not online, even while it
	// holds a will; when the will goes, nothing is said about presence.
	spike := h.login("Spike")
	st := spike.createConv("Tom")
	ts.expect("invited")
	ts.expectJoined(st.Id, "Spike", "Tom")
	sr, err = h.c.SubscribePresenceWithResponse(ctx(t), client.SubscribeInputBody{ClientIds: &[]string{"Spike"}}, tom.auth())
	lcOK(t, "Tom watches Spike", http.StatusOK, sr, err)
	spike.lcHoldWill(st.Id, "Spike's will")
	if lcWhoIsOnline(t, h, tom.auth(), "Spike")["Spike"] {
		t.Error("Spike online without ever opening a stream")
	}
	lcExpectWill(t, lcSweepUntil(h, clk, ts), "Spike", st.Id, "Spike's will")
	ts.lcUnreadOne(st.Id, 1, false)
	probe.check(ts)

	// Bad requests.
	expectProblem(t, "online without ids", 400, client.INVALIDREQUEST)(
		h.c.OnlineClientsWithResponse(ctx(t), &client.OnlineClientsParams{}, tom.auth()))
	many := make([]string, 101)
	for i := range many {
		many[i] = "c" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
	}
	expectProblem(t, "online with 101 ids", 400, client.INVALIDREQUEST)(
		h.c.OnlineClientsWithResponse(ctx(t), &client.OnlineClientsParams{Ids: ptr(strings.Join(many, ","))}, tom.auth()))
	if r, err := h.c.SubscribePresenceWithResponse(ctx(t), client.SubscribeInputBody{ClientIds: &[]string{"Mary"}}, h.master()); err != nil || r.StatusCode() < 400 {
		t.Errorf("the master key subscribes: %v %d, want a refusal (presence events go to a session)", err, r.StatusCode())
	}
}
