package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
)

// Chat rooms (README, "Chat rooms"): per-session seats, live-only delivery, no
// member list, no membership events, no unread counts, a 30-minute stay
// after the stream drops, priorities under congestion, and fan-out to
// thousands of streams.

func chatRoom(name string) client.CreateConversationRequest {
	return client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Name: &name}
}

func withPriority(req client.SendRequest, p client.SendRequestPriority) client.SendRequest {
	req.Priority = &p
	return req
}

func TestChatRooms(t *testing.T) {
	h := start(t)
	host, alice, bob, carol := h.login("Host"), h.login("Alice"), h.login("Bob"), h.login("Carol")
	as, bs, cs := alice.open(), bob.open(), carol.open()
	mk := newMarker(t, h, "Alice", "Bob", "Carol")
	mk.settle(as, bs, cs)

	room := host.create(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Name: ptr("Lobby"), Attributes: &map[string]any{"topic": "general"}})
	if room.Kind != client.ConversationKindChatroom || room.Members != nil || room.Creator != "Host" {
		t.Errorf("chat room %+v: want kind chatroom and no member list", room)
	}
	expectProblem(t, "a chat room with members", http.StatusBadRequest, client.INVALIDREQUEST)(h.c.CreateConversationWithResponse(ctx(t),
		client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindChatroom), Members: &[]string{"Alice"}}, host.auth()))

	// Before joining, a session may neither send, nor read, nor quit.
	notSeated := func(u *user, what string) {
		t.Helper()
		expectProblem(t, what+": send", http.StatusForbidden, client.NOTAMEMBER)(h.c.SendMessageWithResponse(ctx(t), room.Id, textMsg("hi"), u.auth()))
		expectProblem(t, what+": history", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), room.Id, nil, u.auth()))
		expectProblem(t, what+": quit", http.StatusForbidden, client.NOTAMEMBER)(h.c.QuitConversationWithResponse(ctx(t), room.Id, u.auth()))
	}
	notSeated(alice, "Alice before joining")

	// Joining tells nobody, and shows no member list.
	for _, u := range []*user{alice, bob} {
		if c := u.join(room.Id); c.Members != nil || c.Id != room.Id {
			t.Errorf("%s joins: %+v", u.ClientId, c)
		}
	}
	alice.join(room.Id) // again: still seated, nothing told
	mk.check(as, bs, cs)
	// members/count: the clients online in the room now (the host is seated
	// but has no stream).
	if n := carol.count(room.Id); n != 2 {
		t.Errorf("members/count %d, want 2 (Alice and Bob)", n)
	}
	if c := carol.get(room.Id); c.Members != nil || c.Name != "Lobby" {
		t.Errorf("GET %+v", c)
	}

	// A message reaches the other seated sessions, not the sender's own, not
	// Carol; nothing counts as unread.
	// (With unread updates shown: first those of the last marker.)
	as.keepUnread, bs.keepUnread = true, true
	for _, s := range []*stream{as, bs} {
		if d := decode[client.UnreadEvent](t, s.expect(unreadEvent)); len(deref(d.Conversations)) != 1 || (*d.Conversations)[0].ConversationId != mk.conv {
			t.Errorf("%s: unread %+v, want the marker conversation's", s.name, d)
		}
	}
	sent := alice.send(room.Id, withPriority(textMsg("hello room"), client.SendRequestPriorityHigh))
	if deref(sent.Priority) != client.MessagePriorityHigh {
		t.Errorf("sent priority %v, want high", sent.Priority)
	}
	if m := bs.expectText("hello room"); !sameJSON(t, m.Message, sent) || m.ConversationID != room.Id {
		t.Errorf("Bob got %+v, want %+v", m, sent)
	}
	mk.check(as, bs, cs) // no unread update for the room came first
	for _, s := range []*stream{as, bs} {
		if d := decode[client.UnreadEvent](t, s.expect(unreadEvent)); len(deref(d.Conversations)) != 1 || (*d.Conversations)[0].ConversationId != mk.conv {
			t.Errorf("%s: unread %+v, want the marker conversation's", s.name, d)
		}
	}
	as.keepUnread, bs.keepUnread = false, false
	ur, err := h.c.GetUnreadWithResponse(ctx(t), bob.auth())
	okStatus(t, "Bob's unread", http.StatusOK, ur, err)
	if strings.Contains(string(ur.Body), room.Id) {
		t.Errorf("the chat room counts as unread: %s", ur.Body)
	}

	// History: seated sessions and the master key only.
	// (priority is a delivery option: the stored message does not keep it.)
	if got := bob.history(room.Id, client.ListMessagesParams{}); len(*got.Messages) != 1 || (*got.Messages)[0].Id != sent.Id || deref((*got.Messages)[0].Text) != "hello room" {
		t.Errorf("Bob's history %+v", *got.Messages)
	}
	if got := h.masterHistory(room.Id); len(got) != 1 {
		t.Errorf("master-key history %+v", got)
	}
	notSeated(carol, "Carol")

	// Seats are per session: Alice's second session is not in the room until
	// it joins, and counts once with her first.
	alicePad := h.login("Alice")
	aps := alicePad.open()
	notSeated(alicePad, "Alice's second session")
	alicePad.join(room.Id)
	if n := carol.count(room.Id); n != 2 {
		t.Errorf("members/count %d with two sessions of Alice, want 2", n)
	}
	bob.sendText(room.Id, "hi both")
	as.expectText("hi both")
	aps.expectText("hi both")
	mk.check(as, aps, bs, cs)

	// PATCH by a seated session: every seated session is told.
	pr, err := h.c.UpdateConversationWithResponse(ctx(t), room.Id, client.UpdateConversationRequest{Name: ptr("Main hall"), Attributes: &map[string]any{"topic": nil, "rules": "be nice"}}, bob.auth())
	okStatus(t, "Bob patches the room", http.StatusOK, pr, err)
	for _, s := range []*stream{as, aps, bs} {
		d := decode[infoUpdatedData](t, s.expect("infoupdated"))
		if d.Name != "Main hall" || d.UpdatedBy != "Bob" || !sameJSON(t, d.Attributes, map[string]any{"rules": "be nice"}) {
			t.Errorf("%s: infoupdated %+v", s.name, d)
		}
	}
	expectProblem(t, "Carol patches the room", http.StatusForbidden, client.NOTAMEMBER)(h.c.UpdateConversationWithResponse(ctx(t),
		room.Id, client.UpdateConversationRequest{Name: ptr("Mine")}, carol.auth()))
	mk.check(as, aps, bs, cs)

	// What a chat room does not have.
	expectProblem(t, "add members to a chat room", http.StatusConflict, client.OPERATIONNOTSUPPORTED)(h.c.AddMembersWithResponse(ctx(t),
		room.Id, client.MembersRequest{ClientIds: &[]string{"Carol"}}, bob.auth()))
	expectProblem(t, "mute a chat room", http.StatusConflict, client.OPERATIONNOTSUPPORTED)(h.c.MuteConversationWithResponse(ctx(t), room.Id, bob.auth()))

	// Joining a second room leaves the first.
	side := carol.create(chatRoom("Side"))
	alice.join(side.Id)
	bob.sendText(room.Id, "only the pad")
	aps.expectText("only the pad")
	mk.check(as, aps, bs, cs) // Alice's first session left the Lobby
	expectProblem(t, "Alice sends to the room she left", http.StatusForbidden, client.NOTAMEMBER)(h.c.SendMessageWithResponse(ctx(t), room.Id, textMsg("x"), alice.auth()))
	expectProblem(t, "Alice reads the room she left", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), room.Id, nil, alice.auth()))
	carol.sendText(side.Id, "welcome to the side room")
	as.expectText("welcome to the side room")
	mk.check(as, aps, bs, cs)
	if n := carol.count(side.Id); n != 2 {
		t.Errorf("side room count %d, want 2 (Carol and Alice)", n)
	}

	// Quit: no more messages; a second quit is NOT_A_MEMBER.
	bob.quit(room.Id)
	expectProblem(t, "Bob quits twice", http.StatusForbidden, client.NOTAMEMBER)(h.c.QuitConversationWithResponse(ctx(t), room.Id, bob.auth()))
	alicePad.sendText(room.Id, "anyone?")
	mk.check(as, aps, bs, cs)
	if n := carol.count(room.Id); n != 1 {
		t.Errorf("members/count %d after Bob quit, want 1", n)
	}
	// Logging out leaves the room.
	lr, err := h.c.DeleteCurrentSessionWithResponse(ctx(t), alicePad.auth())
	okStatus(t, "logout", http.StatusNoContent, lr, err)
	aps.expectEOF()
	if n := carol.count(room.Id); n != 0 {
		t.Errorf("members/count %d after the last one logged out, want 0", n)
	}
	// The master key reads but does not sit in rooms.
	expectProblem(t, "join with the master key", http.StatusForbidden, client.FORBIDDEN)(h.c.JoinConversationWithResponse(ctx(t), room.Id, client.Signed{}, h.master()))
	if got := texts(h.masterHistory(room.Id)); !sameJSON(t, got, []string{"hello room", "hi both", "only the pad", "anyone?"}) {
		t.Errorf("master-key history %v", got)
	}
}

// metric reads a sample of the server's Prometheus metrics (0 when absent).
func (h *harness) metric(sample string) float64 {
	h.t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				h.t.Fatalf("metric %s: %q", sample, line)
			}
			return v
		}
	}
	return 0
}

// adminText sends a text message as from with the master key, expecting 201.
func (h *harness) adminText(convID, from, text string) client.Message {
	h.t.Helper()
	r, err := h.c.AdminSendMessageWithResponse(ctx(h.t), convID, client.AdminSendInputBody{From: from, Type: ptr(int64(-1)), Text: &text}, h.master())
	okStatus(h.t, "admin send "+text, http.StatusCreated, r, err)
	return *r.JSON201
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A session whose stream dropped keeps its seat for 30 minutes: still
// seated at 29 (it gets the room's messages once it reconnects), gone at 31.
func TestChatRoomSeatOutlivesTheStreamFor30Minutes(t *testing.T) {
	clk := newFakeClock()
	h := start(t, withClock(clk))
	host, alice, bob := h.login("Host"), h.login("Alice"), h.login("Bob")
	room := host.create(chatRoom("Lobby"))
	// The host sends through the backend (admin send): its own seat, without
	// a stream, lapses after 30 minutes like any other.
	alice.join(room.Id)
	bob.join(room.Id)
	before := h.metric("parley_streams_open")
	as, bs := alice.open(), bob.open()
	h.adminText(room.Id, "Host", "one")
	as.expectText("one")
	bs.expectText("one")
	if n := host.count(room.Id); n != 2 {
		t.Errorf("members/count %d, want 2", n)
	}

	// Both streams drop; the clock stands still until the server has seen it.
	h.srv.Hub().Sweep()
	as.close()
	bs.close()
	waitFor(t, "the server sees the streams close", func() bool { return h.metric("parley_streams_open") == before })

	clk.Advance(29 * time.Minute)
	h.srv.Hub().Sweep()
	if n := host.count(room.Id); n != 0 {
		t.Errorf("members/count %d with both offline, want 0 (seated, not online)", n)
	}
	// Alice comes back: still seated, she gets the room's messages and reads
	// its history without joining again.
	as = alice.open()
	h.adminText(room.Id, "Host", "two")
	as.expectText("two")
	if got := texts(*alice.history(room.Id, client.ListMessagesParams{}).Messages); !sameJSON(t, got, []string{"one", "two"}) {
		t.Errorf("Alice's history %v", got)
	}
	if n := host.count(room.Id); n != 1 {
		t.Errorf("members/count %d, want 1", n)
	}

	// At 31 minutes Bob, still away, has lost his seat; Alice, back online,
	// keeps hers.
	clk.Advance(2 * time.Minute)
	h.srv.Hub().Sweep()
	bs = bob.open()
	mk := newMarker(t, h, "Alice", "Bob")
	mk.settle(as, bs)
	h.adminText(room.Id, "Host", "three")
	as.expectText("three")
	mk.check(as, bs) // Bob got nothing
	expectProblem(t, "Bob reads the history after 31 minutes away", http.StatusForbidden, client.NOTAMEMBER)(h.c.ListMessagesWithResponse(ctx(t), room.Id, nil, bob.auth()))
	expectProblem(t, "Bob sends after 31 minutes away", http.StatusForbidden, client.NOTAMEMBER)(h.c.SendMessageWithResponse(ctx(t), room.Id, textMsg("x"), bob.auth()))
	if n := host.count(room.Id); n != 1 {
		t.Errorf("members/count %d, want 1", n)
	}

	// A seat with a live stream never times out.
	clk.Advance(3 * time.Hour)
	h.srv.Hub().Sweep()
	h.adminText(room.Id, "Host", "four")
	as.expectText("four")
	// Bob joins again: seated anew.
	bob.join(room.Id)
	h.adminText(room.Id, "Host", "five")
	as.expectText("five")
	bs.expectText("five")
}

// A chat room fans a message out to thousands of concurrent streams.
func TestChatRoomWithThousandsOfStreams(t *testing.T) {
	const n = 2000
	raiseFileLimit(t, 2*n+1000)
	h := start(t, func(c *server.Config) {
		c.Heartbeat = time.Minute // 2,000 idle tickers at 100 ms would be most of the work
		c.DBSync = "normal"
	})
	restTr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	streamTr := &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true, ReadBufferSize: 2048, WriteBufferSize: 1024}
	t.Cleanup(restTr.CloseIdleConnections)
	rest, err := client.NewClientWithResponses(h.base, client.WithHTTPClient(&http.Client{Transport: restTr, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	host := h.login("Host")
	room := host.create(chatRoom("Stadium"))
	const text = "goal!"

	type fan struct {
		cancel context.CancelFunc
		body   io.ReadCloser
	}
	fans := make([]fan, n)
	var (
		got        atomic.Int64
		unexpected atomic.Int64
		firstBad   atomic.Value
		allGot     = make(chan struct{})
		readers    sync.WaitGroup
	)
	setup := time.Now()
	work := make(chan int)
	var workers sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 32; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range work {
				if err := func() error {
					id := fmt.Sprintf("fan-%04d", i)
					lr, err := rest.CreateSessionWithResponse(context.Background(), client.LoginRequest{ClientId: id})
					if err != nil || lr.JSON201 == nil {
						return fmt.Errorf("login %s: %v %s", id, err, lr.Body)
					}
					tok := lr.JSON201.Token
					jr, err := rest.JoinConversationWithResponse(context.Background(), room.Id, client.Signed{}, withBearer(tok))
					if err != nil || jr.StatusCode() != http.StatusOK {
						return fmt.Errorf("join %s: %v %s", id, err, jr.Body)
					}
					c, cancel := context.WithCancel(context.Background())
					req, _ := http.NewRequestWithContext(c, http.MethodGet, h.base+"/v1/events", nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					resp, err := streamTr.RoundTrip(req)
					if err != nil || resp.StatusCode != http.StatusOK {
						cancel()
						return fmt.Errorf("stream %s: %v", id, err)
					}
					br := bufio.NewReaderSize(resp.Body, 1024)
					// The stream is attached once its hello arrived.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							cancel()
							return fmt.Errorf("stream %s before hello: %v", id, err)
						}
						if bytes.HasPrefix(line, []byte("data: ")) {
							break
						}
					}
					fans[i] = fan{cancel: cancel, body: resp.Body}
					readers.Add(1)
					go func() {
						defer readers.Done()
						var event []byte
						for {
							line, err := br.ReadSlice('\n')
							if err != nil && err != bufio.ErrBufferFull {
								return
							}
							switch {
							case bytes.HasPrefix(line, []byte("event: ")):
								event = append(event[:0], bytes.TrimSpace(line[7:])...)
							case bytes.HasPrefix(line, []byte("data: ")):
								switch string(event) {
								case "message":
									if bytes.Contains(line, []byte(`"text":"`+text+`"`)) {
										if got.Add(1) == n {
											close(allGot)
										}
										continue
									}
									fallthrough
								default:
									if string(event) != unreadEvent { // the fresh stream's summary
										unexpected.Add(1)
										firstBad.CompareAndSwap(nil, string(event)+" "+string(line))
									}
								}
							}
						}
					}()
					return nil
				}(); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	workers.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, f := range fans {
			if f.cancel != nil {
				f.cancel()
				f.body.Close()
			}
		}
		readers.Wait()
		streamTr.CloseIdleConnections()
	})
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d sessions logged in, seated and streaming in %s", n, time.Since(setup).Round(time.Millisecond))

	cr, err := rest.CountMembersWithResponse(ctx(t), room.Id, host.auth())
	okStatus(t, "count", http.StatusOK, cr, err)
	if cr.JSON200.Count != n {
		t.Errorf("members/count %d, want %d", cr.JSON200.Count, n)
	}

	sent := time.Now()
	r, err := rest.SendMessageWithResponse(ctx(t), room.Id, textMsg(text), host.auth())
	okStatus(t, "send to the room", http.StatusCreated, r, err)
	select {
	case <-allGot:
		t.Logf("all %d streams got the message %s after it was sent", n, time.Since(sent).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d streams got the message", got.Load(), n)
	}
	if u := unexpected.Load(); u > 0 {
		t.Errorf("%d unexpected events (membership events in a chat room?), first: %v", u, firstBad.Load())
	}
}

// raiseFileLimit makes sure the process may hold want open files (both ends
// of every connection live in this process), raising the soft limit up to
// the hard one; it skips the test when the hard limit is too low.
func raiseFileLimit(t *testing.T, want uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= want {
		return
	}
	if rl.Max < want {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below the %d open files this test needs", rl.Max, want)
	}
	old := rl.Cur
	rl.Cur = want
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d: %v", want, err)
	}
	t.Cleanup(func() {
		rl.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	})
}

// Under congestion a session's room queue drops low-priority messages (and
// counts them), never high ones: a raw client with a tiny receive buffer
// stops reading while the room gets a flood of large low-priority messages.
func TestChatRoomDropsLowPriorityForASlowConsumer(t *testing.T) {
	h := start(t, func(c *server.Config) { c.Heartbeat = time.Minute })
	host, sender, slow := h.login("Host"), h.login("Sender"), h.login("Slow")
	room := host.create(chatRoom("Busy"))
	sender.join(room.Id) // seated without a stream: it drops nothing
	slow.join(room.Id)

	// The slow client: a raw connection whose receive buffer is a few KiB.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", h.srv.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest(http.MethodGet, h.base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+slow.Token)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("slow stream: %v", err)
	}
	sse := bufio.NewReaderSize(resp.Body, 64<<10)
	readData := func() (event, data string) {
		for {
			line, err := sse.ReadString('\n')
			if err != nil {
				t.Fatalf("slow stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				return event, line[6:]
			}
		}
	}
	if ev, _ := readData(); ev != "hello" {
		t.Fatalf("slow stream starts with %s", ev)
	}
	// From here on the slow client reads nothing until the flood is over.

	lowBefore := h.metric(`parley_room_events_dropped_total{priority="low"}`)
	highBefore := h.metric(`parley_room_events_dropped_total{priority="high"}`)
	// The flood: large low-priority room messages. A few go through the
	// REST API; the bulk is published to the hub directly, as the send
	// handler does, because thousands of REST sends under the race detector
	// would outlast the stream's 10 s write deadline. High-priority messages,
	// all through REST, are sent in between and while the queue is congested.
	const lows, highEvery = 2000, 200
	pad := strings.Repeat("~", 4500)
	flood := time.Now()
	var highs []string
	sendHigh := func() {
		text := fmt.Sprintf("high-%d", len(highs))
		highs = append(highs, text)
		r, err := h.c.SendMessageWithResponse(ctx(t), room.Id, withPriority(textMsg(text), client.SendRequestPriorityHigh), sender.auth())
		okStatus(t, "send "+text, http.StatusCreated, r, err)
	}
	for i := 0; i < lows; i++ {
		text := fmt.Sprintf("low-%d %s", i, pad)
		if i < 10 {
			req := textMsg(text)
			req.Transient = ptr(true)
			r, err := h.c.SendMessageWithResponse(ctx(t), room.Id, withPriority(req, client.SendRequestPriorityLow), sender.auth())
			okStatus(t, "send low", http.StatusCreated, r, err)
		} else {
			h.srv.Hub().PublishRoom(room.Id, events.MustNew("message", map[string]any{
				"conversationId": room.Id, "mentioned": false, "offline": false,
				"message": map[string]any{"id": fmt.Sprintf("low%d", i), "conversationId": room.Id, "from": "Sender",
					"type": -1, "text": text, "timestamp": time.Now().UnixMilli(), "transient": true, "priority": "low"},
			}), events.PriorityLow, "")
		}
		if i%highEvery == highEvery-1 {
			sendHigh()
		}
	}
	for i := 0; i < 5; i++ { // high ones while the queue is congested
		sendHigh()
	}
	r, err := h.c.SendMessageWithResponse(ctx(t), room.Id, withPriority(textMsg("end"), client.SendRequestPriorityHigh), sender.auth())
	okStatus(t, "send end", http.StatusCreated, r, err)
	t.Logf("flood of %d low-priority messages sent in %s", lows, time.Since(flood).Round(time.Millisecond))

	// Now the client reads everything that is left for it.
	gotLow, gotHigh := 0, map[string]bool{}
	for {
		ev, data := readData()
		if ev != "message" {
			continue
		}
		if strings.Contains(data, `"text":"low-`) { // cheap: most of the backlog
			gotLow++
			if !strings.Contains(data, `"priority":"low"`) {
				t.Errorf("a low-priority message without its priority: %.100s…", data)
			}
			continue
		}
		m := decode[messageData](t, frame{Event: ev, Data: data})
		txt := deref(m.Message.Text)
		switch {
		case txt == "end":
		default:
			if deref(m.Message.Priority) != client.MessagePriorityHigh {
				t.Errorf("%s has priority %v", txt, m.Message.Priority)
			}
			gotHigh[txt] = true
			continue
		}
		break
	}
	dropped := h.metric(`parley_room_events_dropped_total{priority="low"}`) - lowBefore
	t.Logf("the slow client got %d of %d low-priority messages; %v were dropped", gotLow, lows, dropped)
	if dropped <= 0 || gotLow >= lows {
		t.Errorf("no low-priority message was dropped for the slow client (got %d of %d): the kernel buffers absorbed the flood?", gotLow, lows)
	}
	if float64(gotLow)+dropped != lows {
		t.Errorf("low-priority messages: %d delivered + %v dropped != %d sent", gotLow, dropped, lows)
	}
	for _, text := range highs {
		if !gotHigh[text] {
			t.Errorf("high-priority %s was lost", text)
		}
	}
	if len(gotHigh) != len(highs) {
		t.Errorf("got %d high-priority messages, want %d", len(gotHigh), len(highs))
	}
	if d := h.metric(`parley_room_events_dropped_total{priority="high"}`) - highBefore; d != 0 {
		t.Errorf("%v high-priority messages dropped", d)
	}
}

// A chat-room message keeps its priority: history shows what the send and
// the live event showed; a message sent without one shows none.
func TestRoomMessagePriorityInHistory(t *testing.T) {
	h := start(t)
	host, alice := h.login("Host"), h.login("Alice")
	room := host.create(chatRoom("Stage"))
	alice.join(room.Id)
	if m := alice.send(room.Id, withPriority(textMsg("urgent"), client.SendRequestPriorityHigh)); deref(m.Priority) != "high" {
		t.Errorf("send answered priority %q", deref(m.Priority))
	}
	alice.sendText(room.Id, "plain")
	hist := alice.lcHistory(room.Id)
	if len(hist) != 2 || deref(hist[0].Priority) != "high" || hist[1].Priority != nil {
		t.Errorf("history %+v, want the first with priority high, the second with none", hist)
	}
}
