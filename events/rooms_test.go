package events

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestASessionSitsInOneRoomAtMost(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	if left := h.JoinRoom("s", "alice", "r1"); left != "" {
		t.Fatalf("first join left %q", left)
	}
	if left := h.JoinRoom("s", "alice", "r2"); left != "r1" {
		t.Fatalf("joining r2 left %q, want r1", left)
	}
	if h.InRoom("s", "r1") || !h.InRoom("s", "r2") {
		t.Fatal("the session must be in r2 only")
	}
	if h.LeaveRoom("s", "r1") || !h.LeaveRoom("s", "r2") || h.InRoom("s", "r2") {
		t.Fatal("leave went wrong")
	}
}

func TestRoomEventsReachAttachedSeatedSessionsOnly(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	in, _, _ := h.Attach("in", "alice", "")
	sender, _, _ := h.Attach("sender", "bob", "")
	out, _, _ := h.Attach("out", "carol", "")
	h.JoinRoom("in", "alice", "r")
	h.JoinRoom("sender", "bob", "r")
	h.JoinRoom("away", "dave", "r") // seated but never streaming
	h.PublishRoom("r", ev(1), PriorityNormal, "sender")

	for name, tc := range map[string]struct {
		st   *Stream
		want int
	}{"seated": {in, 1}, "sender": {sender, 0}, "not seated": {out, 0}} {
		if items, _ := drain(t, tc.st); len(items) != tc.want {
			t.Errorf("%s: %d events, want %d", name, len(items), tc.want)
		}
	}
	if n := h.RoomOnline("r"); n != 2 {
		t.Fatalf("RoomOnline = %d, want 2 (alice and bob stream; dave does not)", n)
	}
}

// A room keeps its seated sessions in a list between seat changes; a
// session that starts streaming after it sat down, or publishes after the
// list was made, is on it.
func TestRoomEventsReachSessionsThatAttachAfterJoining(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	first, _, _ := h.Attach("first", "alice", "")
	h.JoinRoom("first", "alice", "r")
	h.JoinRoom("late", "bob", "r") // no session yet
	h.PublishRoom("r", ev(1), PriorityNormal, "")
	late, _, _ := h.Attach("late", "bob", "")
	h.PublishRoom("r", ev(2), PriorityNormal, "")
	if items, _ := drain(t, first); len(items) != 2 {
		t.Errorf("first: %d events, want 2", len(items))
	}
	if items, _ := drain(t, late); len(items) != 1 || names(items)[0] != `{"n":2}` {
		t.Errorf("late: %v, want the second event only", names(items))
	}
}

func TestRoomEventsInterleaveWithLoggedEventsInOrder(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	h.Publish(ev(1), []string{"alice"}, "")
	h.PublishRoom("r", ev(2), PriorityNormal, "")
	h.Publish(ev(3), []string{"alice"}, "")
	items, _ := drain(t, st)
	if got := names(items); len(got) != 3 || got[0] != `{"n":1}` || got[1] != `{"n":2}` || got[2] != `{"n":3}` {
		t.Fatalf("order %v", got)
	}
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			t.Fatalf("seqs not increasing: %v", items)
		}
	}
	// Room events are live only: a resume replays the logged events alone.
	st.Close()
	st2, hello, _ := h.Attach("s", "alice", formatID(st.Epoch(), 0))
	replayed, _ := drain(t, st2)
	if !hello.Resumed || len(replayed) != 2 {
		t.Fatalf("resume: %+v, replayed %v", hello, names(replayed))
	}
}

func TestCongestedStreamsDropLowThenNormalNeverHigh(t *testing.T) {
	h, _ := newTestHub(t, Options{RoomLowWater: 4, RoomNormalWater: 8, RoomHardCap: 100})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	// Nobody reads: the backlog grows.
	for i := 0; i < 20; i++ {
		h.PublishRoom("r", MustNew(NameMessage, "low"), PriorityLow, "")
		h.PublishRoom("r", MustNew(NameMessage, "normal"), PriorityNormal, "")
		h.PublishRoom("r", MustNew(NameMessage, "high"), PriorityHigh, "")
	}
	items, err := drain(t, st)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, it := range items {
		count[string(it.Event.Data())]++
	}
	if count[`"high"`] != 20 {
		t.Errorf("high kept %d of 20", count[`"high"`])
	}
	if count[`"low"`] >= count[`"normal"`] || count[`"normal"`] >= 20 {
		t.Errorf("dropping order wrong: %v (low must go before normal, and some normal must go)", count)
	}
}

func TestRoomHardCapEndsTheStream(t *testing.T) {
	h, _ := newTestHub(t, Options{RoomHardCap: 10})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	for i := 0; i < 50; i++ {
		h.PublishRoom("r", ev(i), PriorityHigh, "")
	}
	if _, err := st.Take(nil, 1000); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Take = %v, want ErrSlowConsumer", err)
	}
}

func TestADroppedStreamKeepsItsSeatForTheRoomStay(t *testing.T) {
	h, clk := newTestHub(t, Options{RoomStay: 30 * time.Minute, OfflineGrace: 10 * time.Second})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	h.Sweep()
	st.Close()
	clk.Add(29 * time.Minute) // the session state itself is forgotten after 5 minutes
	h.Sweep()
	if !h.InRoom("s", "r") {
		t.Fatal("the seat went before 30 minutes")
	}
	if h.RoomOnline("r") != 0 {
		t.Fatal("a dropped session past its grace counts as online in the room")
	}
	st2, _, _ := h.Attach("s", "alice", "") // back within the stay: in the room again
	h.PublishRoom("r", ev(1), PriorityNormal, "")
	if items, _ := drain(t, st2); len(items) != 1 {
		t.Fatalf("a reconnected session got %d room events, want 1", len(items))
	}
	st2.Close()
	clk.Add(31 * time.Minute)
	h.Sweep()
	if h.InRoom("s", "r") {
		t.Fatal("the seat outlived the 30-minute stay")
	}
}

func TestEndSessionLeavesTheRoom(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	h.EndSession("s", nil)
	if h.InRoom("s", "r") {
		t.Fatal("a logged-out session is still in its room")
	}
}

// writerCalls records what a stream's Writer was handed, call by call.
type writerCalls struct {
	mu    sync.Mutex
	calls [][]string
	got   chan struct{}
}

func recordWrites(st *Stream) *writerCalls {
	w := &writerCalls{got: make(chan struct{}, 100)}
	st.SetWriter(func(scratch *Scratch) {
		items, ok := st.TakeDirect(scratch.Items[:0], 100)
		if !ok {
			st.Notify()
			return
		}
		w.mu.Lock()
		w.calls = append(w.calls, names(items))
		w.mu.Unlock()
		w.got <- struct{}{}
	})
	return w
}

// wait waits for n more calls and returns all so far.
func (w *writerCalls) wait(t *testing.T, n int) [][]string {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-w.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("the room writer was called %d times, want %d", i, n)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]string(nil), w.calls...)
}

// A quiet room's message is handed on at once; what follows within the room
// window travels together, in one call of the stream's room writer (one
// socket write), in order.
func TestARoomsMessagesWithinItsWindowTravelTogether(t *testing.T) {
	h, _ := newTestHub(t, Options{RoomWindow: 300 * time.Millisecond})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	w := recordWrites(st)
	h.PublishRoom("r", ev(1), PriorityNormal, "")
	if calls := w.wait(t, 1); len(calls[0]) != 1 {
		t.Fatalf("first call carried %v, want the one message", calls[0])
	}
	for i := 2; i <= 5; i++ {
		h.PublishRoom("r", ev(i), PriorityNormal, "")
	}
	calls := w.wait(t, 1)
	want := []string{`{"n":2}`, `{"n":3}`, `{"n":4}`, `{"n":5}`}
	if !slices.Equal(calls[1], want) {
		t.Fatalf("second call carried %v, want %v together", calls[1], want)
	}
}

// A stream with a Writer gets every event through the hub's workers, not
// only room ones: logged and room events arrive in seq order, and the
// stream's goroutine is not woken for them.
func TestAWriterGetsLoggedAndRoomEventsInOrder(t *testing.T) {
	h, _ := newTestHub(t, Options{})
	st, _, _ := h.Attach("s", "alice", "")
	h.JoinRoom("s", "alice", "r")
	w := recordWrites(st)
	h.Publish(ev(1), []string{"alice"}, "")
	w.wait(t, 1)
	h.PublishRoom("r", ev(2), PriorityNormal, "")
	h.Publish(ev(3), []string{"alice"}, "")
	var got []string
	for deadline := time.Now().Add(5 * time.Second); len(got) < 3 && time.Now().Before(deadline); {
		got = got[:0]
		for _, c := range w.wait(t, 1) {
			got = append(got, c...)
		}
	}
	if !slices.Equal(got, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}) {
		t.Fatalf("the writer got %v, want 1, 2, 3 in order", got)
	}
	select {
	case <-st.Wake():
		t.Fatal("the stream's goroutine was woken for events its writer took")
	default:
	}
}
