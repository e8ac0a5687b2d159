package events

import (
	"runtime"
	"testing"
	"time"
)

// The table keeps an event while some queue refers to it, and no longer:
// trimmed logs, taken room events and forgotten sessions give their slots
// back, so that a long-running hub does not accumulate events.
func TestEventTableKeepsEventsWhileQueuesReferToThem(t *testing.T) {
	h, clk := newTestHub(t, Options{ReplayEvents: 4, ReplayWindow: time.Minute})
	for _, sid := range []string{"a1", "b1"} {
		st, _, _ := h.Attach(sid, map[string]string{"a1": "alice", "b1": "bob"}[sid], "")
		st.Close() // logged while detached: the logs trim what the stream never took
	}
	for i := range 10 {
		h.Publish(ev(i), []string{"alice", "bob"}, "")
	}
	if got := h.table.held(); got != 4 {
		t.Fatalf("after 10 events to logs of 4: %d slots held, want 4", got)
	}

	st, _, _ := h.Attach("a1", "alice", "")
	h.JoinRoom("a1", "alice", "room")
	h.PublishRoom("room", ev(100), PriorityNormal, "")
	if got := h.table.held(); got != 5 {
		t.Fatalf("with a room event waiting: %d slots held, want 5", got)
	}
	if items, _ := drain(t, st); len(items) != 1 || string(items[0].Event.Data()) != `{"n":100}` {
		t.Fatalf("took %v, want the room event", names(items))
	}
	if got := h.table.held(); got != 4 {
		t.Fatalf("room event taken: %d slots held, want 4", got)
	}

	// Slots given back are reused by new events, each keeping its own.
	for i := 10; i < 12; i++ {
		h.Publish(ev(i), []string{"alice"}, "")
	}
	if items, _ := drain(t, st); len(items) != 2 || string(items[0].Event.Data()) != `{"n":10}` || string(items[1].Event.Data()) != `{"n":11}` {
		t.Fatalf("took %v, want events 10 and 11", names(items))
	}
	if got := h.table.held(); got != 6 {
		t.Fatalf("alice's log holds 8-11, bob's 6-9: %d slots held, want 6", got)
	}

	// Sessions forgotten after the replay window give back what they held.
	st.Close()
	clk.Add(2 * time.Minute)
	h.Sweep()
	for deadline := time.Now().Add(10 * time.Second); h.table.held() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("sessions forgotten: %d slots still held, want 0", h.table.held())
		}
		runtime.GC() // the cleanup of a session runs once it is unreachable
		time.Sleep(10 * time.Millisecond)
	}
}

// A slot is never emptied while a publication is appending its event, even
// when every log it reached trims it at once.
func TestEventTableHoldsDuringPublication(t *testing.T) {
	h, _ := newTestHub(t, Options{ReplayEvents: 1})
	for _, sid := range []string{"a1", "a2"} {
		st, _, _ := h.Attach(sid, "alice", "")
		st.Close()
	}
	first, second := ev(1), ev(2)
	h.PublishEach([]Delivery{{ClientID: "alice", Events: []*Event{first, second}}}, "")
	if got := h.table.held(); got != 1 {
		t.Fatalf("%d slots held, want 1 (the second event, in two logs)", got)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, sid := range []string{"a1", "a2"} {
		s := h.sessions[sid]
		s.mu.Lock()
		got := h.table.event(s.log.front().ref)
		s.mu.Unlock()
		if got != second {
			t.Errorf("%s logs %s, want the second event", sid, got.Data())
		}
	}
}
