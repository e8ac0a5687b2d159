package events

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestHub(t *testing.T, opt Options) (*Hub, *clock) {
	t.Helper()
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	opt.Now = c.Now
	h := NewHub(opt)
	t.Cleanup(h.Close)
	return h, c
}

func ev(i int) *Event { return MustNew(NameMessage, map[string]int{"n": i}) }

// drain takes everything available without blocking.
func drain(t *testing.T, st *Stream) ([]Item, error) {
	t.Helper()
	var all []Item
	for {
		items, err := st.Take(nil, 1000)
		all = append(all, items...)
		if err != nil || len(items) == 0 {
			return all, err
		}
	}
}

func names(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Event.Data())
	}
	return out
}

func TestPublishReachesEverySessionOfTheClientsButTheExcepted(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	a1, _, _ := h.Attach("a1", "alice", "")
	a2, _, _ := h.Attach("a2", "alice", "")
	b, _, _ := h.Attach("b", "bob", "")
	c, _, _ := h.Attach("c", "carol", "")

	h.Publish(ev(1), []string{"alice", "bob"}, "a1")

	for name, tc := range map[string]struct {
		st   *Stream
		want int
	}{"a1 (sender)": {a1, 0}, "a2": {a2, 1}, "b": {b, 1}, "c (not addressed)": {c, 0}} {
		items, err := drain(t, tc.st)
		if err != nil || len(items) != tc.want {
			t.Errorf("%s: got %d events (err %v), want %d", name, len(items), err, tc.want)
		}
	}
}

func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, hello, _ := h.Attach("s", "alice", "")
	if hello.Resumed || hello.Reset {
		t.Fatalf("fresh stream: %+v", hello)
	}
	for i := 1; i <= 3; i++ {
		h.Publish(ev(i), []string{"alice"}, "")
	}
	got, _ := drain(t, st)
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3", len(got))
	}
	cursor := formatID(st.Epoch(), got[1].Seq) // the client saw events 1 and 2 only
	st.Close()
	for i := 4; i <= 5; i++ {
		h.Publish(ev(i), []string{"alice"}, "") // logged while detached
	}

	st2, hello2, _ := h.Attach("s", "alice", cursor)
	if !hello2.Resumed || hello2.Reset || hello2.ID != cursor {
		t.Fatalf("resume: %+v, want resumed from %s", hello2, cursor)
	}
	replayed, _ := drain(t, st2)
	want := []string{`{"n":3}`, `{"n":4}`, `{"n":5}`}
	if fmt.Sprint(names(replayed)) != fmt.Sprint(want) {
		t.Fatalf("replayed %v, want %v", names(replayed), want)
	}

	// Resuming from the newest id repeats nothing.
	st3, hello3, _ := h.Attach("s", "alice", formatID(st2.Epoch(), replayed[2].Seq))
	if items, _ := drain(t, st3); !hello3.Resumed || len(items) != 0 {
		t.Fatalf("resume from newest: %+v, %d events", hello3, len(items))
	}
}

func TestResumeFromAnUnknownCursorResets(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, hello, _ := h.Attach("s", "alice", "")
	h.Publish(ev(1), []string{"alice"}, "")
	st.Close()
	for _, id := range []string{"garbage", "otherepoch.1", hello.ID[:len(hello.ID)-1] + "9"} {
		st, hello, _ := h.Attach("s", "alice", id)
		if !hello.Reset || hello.Resumed {
			t.Errorf("cursor %q: %+v, want reset", id, hello)
		}
		if items, _ := drain(t, st); len(items) != 0 {
			t.Errorf("cursor %q: a reset stream replayed %d events", id, len(items))
		}
		st.Close()
	}
}

func TestResumeBeyondTheLogResets(t *testing.T) {
	h, _ := newTestHub(t, Options{ReplayEvents: 4})
	st, hello, _ := h.Attach("s", "alice", "")
	st.Close()
	for i := 1; i <= 5; i++ {
		h.Publish(ev(i), []string{"alice"}, "")
	}
	_, h2, _ := h.Attach("s", "alice", hello.ID)
	if !h2.Reset {
		t.Fatalf("event 1 was dropped from a 4-event log, yet resume from 0 did not reset: %+v", h2)
	}
}

func TestEventsOlderThanTheReplayWindowAreNotReplayed(t *testing.T) {
	h, clk := newTestHub(t, Options{ReplayWindow: time.Minute})
	st, hello, _ := h.Attach("s", "alice", "")
	st.Close()
	h.Publish(ev(1), []string{"alice"}, "")
	clk.Add(2 * time.Minute)
	h.Publish(ev(2), []string{"alice"}, "") // trims event 1 by age
	_, h2, _ := h.Attach("s", "alice", hello.ID)
	if !h2.Reset {
		t.Fatalf("resume across an expired event: %+v, want reset", h2)
	}
}

func TestSlowConsumerIsEndedAndPublishNeverBlocks(t *testing.T) {
	h, _ := newTestHub(t, Options{ReplayEvents: 8})
	st, _, _ := h.Attach("s", "alice", "")
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10_000; i++ { // far past the bound, nobody reading
			h.Publish(ev(i), []string{"alice"}, "")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a stream that does not read")
	}
	if _, err := st.Take(nil, 100); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Take = %v, want ErrSlowConsumer", err)
	}
	h.mu.RLock()
	n := h.sessions["s"].log.len()
	h.mu.RUnlock()
	if n > 8 {
		t.Fatalf("the session log holds %d events, more than its bound 8", n)
	}
}

func TestANewStreamReplacesTheOld(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	old, _, _ := h.Attach("s", "alice", "")
	cur, _, _ := h.Attach("s", "alice", "")
	if _, err := old.Take(nil, 10); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old stream: %v, want ErrReplaced", err)
	}
	old.Close() // must not detach the new stream
	h.Publish(ev(1), []string{"alice"}, "")
	if items, err := drain(t, cur); err != nil || len(items) != 1 {
		t.Fatalf("new stream: %d events, %v", len(items), err)
	}
}

func TestEndSessionDeliversTheFinalEventThenEnds(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, _, _ := h.Attach("s", "alice", "")
	h.EndSession("s", MustNew(NameConflict, map[string]string{"reason": "x"}))
	items, err := drain(t, st)
	if len(items) != 1 || items[0].Event.Name != NameConflict || !errors.Is(err, ErrEnded) {
		t.Fatalf("got %v, %v; want the conflict event then ErrEnded", names(items), err)
	}
	h.Publish(ev(1), []string{"alice"}, "")
	if h.Online("alice") {
		t.Fatal("an ended session still counts as online")
	}
}

func TestOnlineGraceAndGone(t *testing.T) {
	var mu sync.Mutex
	var gone []string
	h, clk := newTestHub(t, Options{
		OfflineGrace: 10 * time.Second, ReplayWindow: time.Minute,
		OnGone: func(sid, cid string) { mu.Lock(); gone = append(gone, sid+"/"+cid); mu.Unlock() },
	})
	st, hello, _ := h.Attach("s", "alice", "")
	if !h.Online("alice") || h.Online("bob") {
		t.Fatal("online status wrong while attached")
	}
	st.Close()
	clk.Add(5 * time.Second)
	h.Sweep()
	if !h.Online("alice") || len(gone) != 0 {
		t.Fatal("a session within its grace must stay online and not be gone")
	}
	clk.Add(6 * time.Second)
	h.Sweep()
	h.Sweep() // reported once only
	if h.Online("alice") || fmt.Sprint(gone) != "[s/alice]" {
		t.Fatalf("after the grace: online=%v gone=%v", h.Online("alice"), gone)
	}
	// Within the replay window the session can still resume.
	clk.Add(30 * time.Second)
	h.Sweep()
	if _, h2, _ := h.Attach("s", "alice", hello.ID); !h2.Resumed {
		t.Fatalf("resume within the window: %+v", h2)
	}
}

func TestSessionsAreForgottenAfterTheReplayWindow(t *testing.T) {
	h, clk := newTestHub(t, Options{ReplayWindow: time.Minute})
	st, hello, _ := h.Attach("s", "alice", "")
	st.Close()
	clk.Add(2 * time.Minute)
	h.Sweep()
	if _, h2, _ := h.Attach("s", "alice", hello.ID); !h2.Reset {
		t.Fatalf("resume after the window: %+v, want reset", h2)
	}
}

func TestCloseEndsStreamsAndRefusesNewOnes(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, _, _ := h.Attach("s", "alice", "")
	h.Close()
	select {
	case <-st.Wake():
	default:
		t.Fatal("Close did not wake the stream")
	}
	if _, err := st.Take(nil, 10); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Take after Close = %v", err)
	}
	if _, _, err := h.Attach("t", "bob", ""); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Attach after Close = %v", err)
	}
}

func TestEventFrameIsOneSSEFrame(t *testing.T) {
	e := MustNew(NameMessage, map[string]string{"text": "two\nlines"})
	want := "event: message\ndata: {\"text\":\"two\\nlines\"}\n\n"
	if string(e.Frame()) != want {
		t.Fatalf("frame %q, want %q", e.Frame(), want)
	}
	if string(e.Data()) != `{"text":"two\nlines"}` {
		t.Fatalf("data %q", e.Data())
	}
}

func BenchmarkPublishFanOut500(b *testing.B) {
	h := NewHub(Options{})
	defer h.Close()
	clients := make([]string, 500)
	streams := make([]*Stream, 500)
	for i := range clients {
		clients[i] = fmt.Sprint("c", i)
		streams[i], _, _ = h.Attach(clients[i], clients[i], "")
	}
	e := ev(1)
	buf := make([]Item, 0, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Publish(e, clients, "")
		for _, st := range streams {
			buf, _ = st.Take(buf[:0], 64)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkEventEncode(b *testing.B) {
	data := map[string]any{"conversationId": "6v1ofs2k0ha2e4ktl0s0", "message": map[string]any{"id": "1kb0p2qk000", "text": "Hello Jerry!", "type": -1}}
	for i := 0; i < b.N; i++ {
		MustNew(NameMessage, data)
	}
}
