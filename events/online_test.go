package events

import (
	"testing"
	"time"
)

// OnlineClients counts clients, not sessions, and a client whose stream
// dropped until its grace has passed.
func TestOnlineClientsCountsEachClientOnce(t *testing.T) {
	h, clock := newTestHub(t, Options{OfflineGrace: 10 * time.Second})
	if n := h.OnlineClients(); n != 0 {
		t.Fatalf("empty hub: %d", n)
	}
	a1, _, _ := h.Attach("a1", "alice", "")
	h.Attach("a2", "alice", "")
	b, _, _ := h.Attach("b", "bob", "")
	if n := h.OnlineClients(); n != 2 {
		t.Fatalf("alice twice and bob: %d, want 2", n)
	}
	a1.Close()
	b.Close()
	if n := h.OnlineClients(); n != 2 {
		t.Errorf("within the grace: %d, want 2", n)
	}
	clock.Add(11 * time.Second)
	if n := h.OnlineClients(); n != 1 {
		t.Errorf("after the grace, alice's second session only: %d, want 1", n)
	}
	h.EndSession("a2", nil)
	if n := h.OnlineClients(); n != 0 {
		t.Errorf("all gone: %d", n)
	}
}
