package events

import (
	"sync"
	"sync/atomic"
)

// eventTable holds the events that sessions' logs and room queues refer to,
// each in one slot, so that the logs themselves hold no pointers. A group
// of 500 streaming members keeping 10,000 events each was five million
// pointers for the garbage collector to mark on every cycle (150–300 ms of
// marking, with one of two cores taken from the server); the table holds
// one pointer per distinct event.
//
// Every log entry holds a reference to its slot (refs counts them); the
// last one released empties the slot for another event. Whoever publishes
// holds one reference of its own while it appends (hold, then release), so
// that a slot cannot be emptied and reused half-way through.
type eventTable struct {
	mu     sync.Mutex
	chunks atomic.Pointer[[]*tableChunk] // grown by copying, read without the lock
	free   []uint32
	next   uint32 // slots above it were never used
}

const chunkBits = 10

type tableChunk [1 << chunkBits]tableSlot

type tableSlot struct {
	ev   *Event
	refs atomic.Int32
}

func (t *eventTable) slot(ref uint32) *tableSlot {
	return &(*t.chunks.Load())[ref>>chunkBits][ref&(1<<chunkBits-1)]
}

// hold puts ev in a free slot with one reference, the caller's, and returns
// the slot's number.
func (t *eventTable) hold(ev *Event) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ref uint32
	if n := len(t.free); n > 0 {
		ref, t.free = t.free[n-1], t.free[:n-1]
	} else {
		ref = t.next
		t.next++
		var chunks []*tableChunk
		if p := t.chunks.Load(); p != nil {
			chunks = *p
		}
		if int(ref>>chunkBits) == len(chunks) {
			grown := append(chunks[:len(chunks):len(chunks)], new(tableChunk))
			t.chunks.Store(&grown)
		}
	}
	s := t.slot(ref)
	s.ev = ev
	s.refs.Store(1)
	return ref
}

// ref adds a reference to a held slot.
func (t *eventTable) ref(ref uint32) { t.slot(ref).refs.Add(1) }

// event is the event in a slot the caller holds a reference to.
func (t *eventTable) event(ref uint32) *Event { return t.slot(ref).ev }

// release drops a reference; the last one empties the slot.
func (t *eventTable) release(ref uint32) {
	s := t.slot(ref)
	if s.refs.Add(-1) != 0 {
		return
	}
	t.mu.Lock()
	s.ev = nil
	t.free = append(t.free, ref)
	t.mu.Unlock()
}

// held is the number of slots in use (tests).
func (t *eventTable) held() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.next) - len(t.free)
}
