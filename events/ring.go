package events

import "sync"

// entry is one event in a session's log or room queue: a reference to its
// slot in the hub's eventTable, so that a ring holds no pointers.
type entry struct {
	seq uint64
	at  int64 // unix nanoseconds
	ref uint32
}

// segSize is how many entries a segment of a ring holds.
const segSize = 32

type segment [segSize]entry

// segments keeps emptied segments for the next ring that grows.
var segments = sync.Pool{New: func() any { return new(segment) }}

// ring is a queue of entries in ascending seq order, kept in segments of
// segSize: it grows and shrinks a segment at a time and never copies its
// entries. (Grown by doubling, it copied them all each time; the logs of a
// busy group's 500 members grow in step, and copied 100 MB at once, a
// 10–20 ms stall of the fan-out.)
type ring struct {
	segs []*segment // segs[0] holds the front entry, at head
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) push(e entry) {
	end := r.head + r.n
	if end == len(r.segs)*segSize {
		r.segs = append(r.segs, segments.Get().(*segment))
	}
	r.segs[end/segSize][end%segSize] = e
	r.n++
}

func (r *ring) front() *entry { return &r.segs[0][r.head] }

func (r *ring) at(i int) *entry {
	p := r.head + i
	return &r.segs[p/segSize][p%segSize]
}

func (r *ring) pop() entry {
	e := r.segs[0][r.head]
	r.head++
	r.n--
	switch {
	case r.n == 0:
		r.head = 0 // the one segment left starts over
	case r.head == segSize:
		segments.Put(r.segs[0])
		r.segs[0] = nil
		r.segs = r.segs[1:]
		r.head = 0
	}
	return e
}

// clear empties the ring, releasing its entries' references.
func (r *ring) clear(t *eventTable) {
	for i := range r.n {
		t.release(r.at(i).ref)
	}
	for _, s := range r.segs {
		segments.Put(s)
	}
	r.segs, r.head, r.n = nil, 0, 0
}

// after returns the index of the first entry with a seq above seq.
func (r *ring) after(seq uint64) int {
	lo, hi := 0, r.n
	for lo < hi {
		mid := (lo + hi) / 2
		if r.at(mid).seq <= seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
