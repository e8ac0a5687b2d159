package events

// entry is one event in a session's log or room queue: a reference to its
// slot in the hub's eventTable, so that a ring holds no pointers.
type entry struct {
	seq uint64
	at  int64 // unix nanoseconds
	ref uint32
}

// ring is a growable circular buffer of entries in ascending seq order.
type ring struct {
	buf  []entry
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		size := 2 * len(r.buf)
		if size == 0 {
			size = 8
		}
		buf := make([]entry, size)
		for i := 0; i < r.n; i++ {
			buf[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *ring) front() *entry { return &r.buf[r.head] }

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) pop() entry {
	e := r.buf[r.head]
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > 64 {
			r.buf = nil // give an emptied big buffer back
		}
	}
	return e
}

// clear empties the ring, releasing its entries' references.
func (r *ring) clear(t *eventTable) {
	for i := range r.n {
		t.release(r.at(i).ref)
	}
	r.buf, r.head, r.n = nil, 0, 0
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
