package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// A reconnect with Last-Event-ID (header or query) replays exactly what was
// missed, in order; resuming from a hello id skips and repeats nothing.
func TestResume(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")

	s := jerry.open()
	conv := tom.createConv("Jerry")
	s.expect("invited")
	s.expectJoined(conv.Id, "Tom", "Jerry")
	for i := 1; i <= 4; i++ {
		tom.sendText(conv.Id, fmt.Sprintf("a%d", i))
	}
	// Jerry has seen a1 and a2 when the connection drops; a3 and a4 may well
	// have reached his socket, but he never read them.
	s.expectText("a1")
	s.expectText("a2")
	cursor := s.lastID
	s.close()

	for i := 1; i <= 5; i++ {
		tom.sendText(conv.Id, fmt.Sprintf("b%d", i))
	}

	// Resume with the header.
	s = jerry.open(lastEventHeader(cursor))
	if !s.Hello.Resumed {
		t.Error("hello of a resumed stream says resumed: false")
	}
	if s.HelloID != cursor {
		t.Errorf("resumed stream starts at %q, want %q", s.HelloID, cursor)
	}
	for _, text := range []string{"a3", "a4", "b1", "b2", "b3", "b4", "b5"} {
		s.expectText(text)
	}
	tom.sendText(conv.Id, "c1") // nothing is replayed twice: c1 comes next
	s.expectText("c1")
	cursor = s.lastID
	s.close()

	// Resume with ?lastEventId= and ?token=, as a browser's EventSource.
	tom.sendText(conv.Id, "d1")
	tom.sendText(conv.Id, "d2")
	s = jerry.open(lastEventQuery(cursor), tokenQuery())
	if !s.Hello.Resumed || s.HelloID != cursor {
		t.Errorf("query resume: hello %+v id %q, want resumed from %q", s.Hello, s.HelloID, cursor)
	}
	s.expectText("d1")
	s.expectText("d2")
	tom.sendText(conv.Id, "e1")
	s.expectText("e1")
	s.close()

	// A fresh stream starts at the newest event; resuming from its hello id
	// gets what came after it, and nothing from before.
	tom.sendText(conv.Id, "f1 (before the fresh stream)")
	s = jerry.open()
	if s.Hello.Resumed {
		t.Error("a fresh stream says resumed: true")
	}
	helloID := s.HelloID
	tom.sendText(conv.Id, "g1")
	s.close()
	s = jerry.open(lastEventHeader(helloID))
	if !s.Hello.Resumed || s.HelloID != helloID {
		t.Errorf("resume from a hello id: hello %+v id %q", s.Hello, s.HelloID)
	}
	s.expectText("g1")
	tom.sendText(conv.Id, "g2")
	s.expectText("g2")

	// Resuming right where the stream is (nothing missed) also works.
	cursor = s.lastID
	s.close()
	s = jerry.open(lastEventHeader(cursor))
	if !s.Hello.Resumed || s.HelloID != cursor {
		t.Errorf("resume with nothing missed: hello %+v id %q", s.Hello, s.HelloID)
	}
	tom.sendText(conv.Id, "h1")
	s.expectText("h1")
}

// Resume also replays membership events, for the whole replay window.
func TestResumeReplaysMembershipEvents(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	s := jerry.open()
	conv := tom.createConv("Jerry")
	s.expect("invited")
	s.expectJoined(conv.Id, "Tom", "Jerry")
	cursor := s.lastID
	s.close()

	if r, err := h.c.AddMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Mary"}}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("add Mary: %v", err)
	}
	tom.sendText(conv.Id, "welcome Mary")
	if r, err := h.c.RemoveMembersWithResponse(ctx(t), conv.Id, client.MembersRequest{ClientIds: &[]string{"Jerry"}}, tom.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("remove Jerry: %v", err)
	}

	s = jerry.open(lastEventHeader(cursor))
	if d := decode[membersJoinedData](t, s.expect("membersjoined")); !sameJSON(t, d.Members, []string{"Mary"}) {
		t.Errorf("membersjoined %+v", d)
	}
	s.expectText("welcome Mary")
	if d := decode[kickedData](t, s.expect("kicked")); d.KickedBy != "Tom" || d.ConversationID != conv.Id {
		t.Errorf("kicked %+v", d)
	}
}

// A cursor the server cannot honour gets hello, then reset; the stream then
// carries on with new events.
func TestResetOnUnknownCursor(t *testing.T) {
	h := start(t)
	tom, jerry, mary := h.login("Tom"), h.login("Jerry"), h.login("Mary")
	conv := tom.createConv("Jerry")

	s := jerry.open()
	tom.sendText(conv.Id, "one")
	s.expectText("one")
	cursor := s.lastID
	epoch, seq := parseEventID(t, cursor)
	s.close()
	foreign := mary.open().HelloID // another session's epoch

	n := 0
	for _, c := range []struct{ name, id string }{
		{"garbage", "garbage"},
		{"no sequence number", epoch + ".x"},
		{"another session's id", foreign},
		{"another epoch", "zzzzzzzz." + fmt.Sprint(seq)},
		{"a future event", fmt.Sprintf("%s.%d", epoch, seq+1000)},
	} {
		for _, how := range []struct {
			name string
			opt  func(string) streamOpt
		}{{"header", lastEventHeader}, {"query", lastEventQuery}} {
			s := jerry.open(how.opt(c.id))
			if s.Hello.Resumed {
				t.Errorf("%s (%s): hello says resumed: true", c.name, how.name)
			}
			f := s.expect("reset")
			if f.ID != s.HelloID {
				t.Errorf("%s (%s): reset id %q, hello id %q", c.name, how.name, f.ID, s.HelloID)
			}
			if r := decode[reasonData](t, f); r.Reason == "" {
				t.Errorf("%s (%s): reset without a reason", c.name, how.name)
			}
			n++
			text := fmt.Sprintf("after reset %d", n)
			tom.sendText(conv.Id, text)
			s.expectText(text)
			s.close()
		}
	}

	// After a restart every cursor is from a past epoch: reset, then the
	// stream works (the token stays valid across the restart).
	cursor = jerry.open().HelloID
	h2 := h.restart()
	jerry2, tom2 := jerry.on(h2), tom.on(h2)
	s = jerry2.open(lastEventHeader(cursor))
	if s.Hello.Resumed {
		t.Error("after a restart: hello says resumed: true")
	}
	s.expect("reset")
	tom2.sendText(conv.Id, "after the restart")
	s.expectText("after the restart")
}

// One stream per session: a second stream of the same session replaces the
// first, which ends cleanly.
func TestSecondStreamReplacesFirst(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")

	first := jerry.open()
	second := jerry.open()
	first.expectEOF()
	if second.Hello.Resumed {
		t.Error("the replacing stream says resumed: true")
	}
	tom.sendText(conv.Id, "to the new stream")
	second.expectText("to the new stream")

	third := jerry.open(tokenQuery(), lastEventHeader(second.lastID))
	second.expectEOF()
	if !third.Hello.Resumed {
		t.Error("the resuming replacement says resumed: false")
	}
	tom.sendText(conv.Id, "to the third stream")
	third.expectText("to the third stream")
}

// The stream sends heartbeat comments while idle.
func TestHeartbeat(t *testing.T) {
	h := start(t)
	s := h.login("Jerry").open()
	s.waitComment()
	s.waitComment()
}

// A login with a tag the client holds in another live session replaces that
// session: its stream gets conflict and closes, its token answers
// SESSION_CONFLICT. Other tags and untagged sessions are untouched.
func TestTagConflict(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")

	mobile := h.login("Jerry", "Mobile")
	web := h.login("Jerry", "Web")
	plain := h.login("Jerry")
	ms, ws, ps := mobile.open(), web.open(), plain.open()
	mary := h.login("Mary", "Mobile") // the same tag, another client
	maryS := mary.open()

	mobile2 := h.login("Jerry", "Mobile")
	if mobile2.Tag != "Mobile" {
		t.Errorf("tag %q", mobile2.Tag)
	}
	r := decode[reasonData](t, ms.expect("conflict"))
	if r.Reason == "" {
		t.Error("conflict without a reason")
	}
	ms.expectEOF()

	expectProblem(t, "old token on REST", http.StatusUnauthorized, client.SESSIONCONFLICT)(
		h.c.GetConversationWithResponse(ctx(t), conv.Id, mobile.auth()))
	expectProblem(t, "old token sends", http.StatusUnauthorized, client.SESSIONCONFLICT)(
		h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("hi"), mobile.auth()))
	resp, cancel := dialEvents(t, h.base, http.Header{"Authorization": {"Bearer " + mobile.Token}})
	defer cancel()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problemOf(t, "old token opens the stream", resp, body, http.StatusUnauthorized, client.SESSIONCONFLICT)
	expectProblem(t, "old token logs out", http.StatusUnauthorized, client.SESSIONCONFLICT)(
		h.c.DeleteCurrentSessionWithResponse(ctx(t), mobile.auth()))

	// The new session, the other tags and other clients carry on.
	m2s := mobile2.open()
	tom.sendText(conv.Id, "still here")
	for _, s := range []*stream{ws, ps, m2s} {
		s.expectText("still here")
	}
	h.login("Spike").createConv("Mary")
	maryS.expect("invited")
	if r, err := h.c.GetConversationWithResponse(ctx(t), conv.Id, web.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("another tag's token: %v %s", err, r.Body)
	}

	// The replaced session stays replaced after a restart.
	h2 := h.restart()
	expectProblem(t, "old token after a restart", http.StatusUnauthorized, client.SESSIONCONFLICT)(
		h2.c.GetConversationWithResponse(ctx(t), conv.Id, mobile.auth()))
	if r, err := h2.c.GetConversationWithResponse(ctx(t), conv.Id, mobile2.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("the new session after a restart: %v %s", err, r.Body)
	}
}

// Logging out rejects the token at once and ends the stream.
func TestLogout(t *testing.T) {
	h := start(t)
	tom := h.login("Tom")
	conv := tom.createConv("Jerry")
	jerry, jerryPad := h.login("Jerry"), h.login("Jerry")
	s, ps := jerry.open(), jerryPad.open()

	r, err := h.c.DeleteCurrentSessionWithResponse(ctx(t), jerry.auth())
	if err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout: %v %d %s", err, r.StatusCode(), r.Body)
	}
	s.expectEOF()

	expectProblem(t, "token after logout", http.StatusUnauthorized, client.UNAUTHORIZED)(
		h.c.GetConversationWithResponse(ctx(t), conv.Id, jerry.auth()))
	expectProblem(t, "send after logout", http.StatusUnauthorized, client.UNAUTHORIZED)(
		h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg("hi"), jerry.auth()))
	expectProblem(t, "logout twice", http.StatusUnauthorized, client.UNAUTHORIZED)(
		h.c.DeleteCurrentSessionWithResponse(ctx(t), jerry.auth()))
	resp, cancel := dialEvents(t, h.base, http.Header{"Authorization": {"Bearer " + jerry.Token}})
	defer cancel()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	problemOf(t, "stream after logout", resp, body, http.StatusUnauthorized, client.UNAUTHORIZED)

	// Jerry's other session is unaffected.
	tom.sendText(conv.Id, "for the pad")
	ps.expectText("for the pad")

	// Still rejected after a restart.
	h2 := h.restart()
	expectProblem(t, "token after logout and restart", http.StatusUnauthorized, client.UNAUTHORIZED)(
		h2.c.GetConversationWithResponse(ctx(t), conv.Id, jerry.auth()))
	if r, err := h2.c.GetConversationWithResponse(ctx(t), conv.Id, jerryPad.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("the other session after a restart: %v %s", err, r.Body)
	}
}

// Shutdown ends open streams cleanly (EOF, not an error status), and every
// send answered 201 before or during the shutdown is in the database when a
// new server starts on it.
func TestGracefulShutdown(t *testing.T) {
	h := start(t)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	s := jerry.open()
	before := tom.sendText(conv.Id, "before the shutdown")
	s.expectText("before the shutdown")

	// Senders keep sending while the server shuts down.
	var (
		mu       sync.Mutex
		answered = map[string]bool{before.Id: true}
		ok       atomic.Int64
		started  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r, err := h.c.SendMessageWithResponse(ctx(t), conv.Id, textMsg(fmt.Sprintf("g%d-%d", g, i)), tom.auth())
				if err != nil {
					return // refused: the server is gone
				}
				switch r.StatusCode() {
				case http.StatusCreated:
					mu.Lock()
					answered[r.JSON201.Id] = true
					mu.Unlock()
					if ok.Add(1) >= 16 {
						once.Do(func() { close(started) })
					}
					continue
				case http.StatusServiceUnavailable:
					problemOf(t, "send during shutdown", r.HTTPResponse, r.Body, http.StatusServiceUnavailable, client.SERVICEUNAVAILABLE)
				default:
					t.Errorf("send during shutdown: %d %s", r.StatusCode(), r.Body)
				}
				return
			}
		}()
	}
	<-started
	h.shutdown()
	// The stream carries messages of the senders until it ends cleanly.
	var delivered []string
	for _, f := range s.untilEOF() {
		if f.Event != "message" {
			t.Errorf("got %s event during the shutdown", f.Event)
			continue
		}
		delivered = append(delivered, decode[messageData](t, f).Message.Id)
	}
	wg.Wait()

	h2 := h.restart()
	if h2.srv.MasterKey != h.srv.MasterKey {
		t.Error("the generated master key changed across a restart")
	}
	p := tom.on(h2).history(conv.Id, client.ListMessagesParams{Limit: ptr(int64(1000))})
	stored := map[string]bool{}
	for _, m := range *p.Messages {
		stored[m.Id] = true
	}
	for id := range answered {
		if !stored[id] {
			t.Errorf("message %s was answered 201 but is not stored", id)
		}
	}
	for _, id := range delivered {
		if !stored[id] {
			t.Errorf("message %s was delivered but is not stored", id)
		}
	}
	t.Logf("%d sends answered 201, %d delivered, %d messages stored", len(answered), len(delivered), len(stored))
	if r, err := h2.c.GetConversationWithResponse(ctx(t), conv.Id, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Errorf("Jerry's token after the restart: %v %s", err, r.Body)
	}
}

// A request arriving after the shutdown is refused, never answered 5xx.
func TestShutdownRefusesNewRequests(t *testing.T) {
	h := start(t)
	h.login("Tom")
	h.shutdown()
	_, err := h.c.CreateSessionWithResponse(ctx(t), client.LoginRequest{ClientId: "Late"})
	if err == nil {
		t.Fatal("a login after shutdown was answered")
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Errorf("a request after shutdown timed out instead of being refused: %v", err)
	}
}

// A stream answers HTTP/1.1 clients on the connection it takes over (the
// body ends when the connection closes) and HTTP/1.0 ones through net/http;
// both get the same head, CORS headers included, and the same frames.
func TestStreamOverHTTP10And11(t *testing.T) {
	h := start(t, func(c *server.Config) { c.CORSOrigins = []string{"https://app.example.com"} })
	tom, jerry := h.login("Tom"), h.login("Jerry")
	conv := tom.createConv("Jerry")
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		t.Run(proto, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET /v1/events %s\r\nHost: parley\r\nAuthorization: Bearer %s\r\nOrigin: https://app.example.com\r\n\r\n", proto, jerry.Token)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{
				"Content-Type":                "text/event-stream",
				"Cache-Control":               "no-store",
				"Access-Control-Allow-Origin": "https://app.example.com",
			} {
				if got := resp.Header.Get(k); resp.StatusCode != 200 || got != want {
					t.Fatalf("%d, %s: %q, want %q", resp.StatusCode, k, got, want)
				}
			}
			if resp.ContentLength != -1 {
				t.Fatalf("Content-Length %d on an endless stream", resp.ContentLength)
			}
			body := bufio.NewReader(resp.Body)
			readUntil := func(what string) {
				t.Helper()
				for {
					line, err := body.ReadString('\n')
					if err != nil {
						t.Fatalf("the stream ended before %q: %v", what, err)
					}
					if strings.Contains(line, what) {
						return
					}
				}
			}
			readUntil("event: hello")
			readUntil("event: unreadmessagescountupdate") // the summary of a fresh stream
			tom.sendText(conv.Id, "over "+proto)
			readUntil(`"text":"over ` + proto + `"`)
		})
	}
}
