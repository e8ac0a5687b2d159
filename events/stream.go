package events

// Stream is the reader of one session's events: the writer of an SSE
// response (or of any other transport) takes batches from it and writes
// them; with a Writer set, the hub's workers take and write them too, one
// at a time with the stream's own goroutine (the Writer's lock sees to it).
type Stream struct {
	h      *Hub
	s      *session
	epoch  string
	cursor uint64 // seq of the last event taken
	wake   chan struct{}
	err    error // set when the stream must end
	closed bool
	// writer, when set, writes waiting events from a hub worker; queued
	// says the stream waits for one. Guarded by the session's lock.
	writer Writer
	queued bool
}

// A Writer writes a stream's waiting events (TakeDirect) to its peer on a
// hub worker, without blocking; what it cannot write now it leaves to the
// stream's own goroutine (Notify). A transport whose streams have no
// goroutine of their own (the realtime gateway's) may instead start one
// that takes and writes the events; it is also called when the stream must
// end (unless a newer stream replaced it). scratch is the worker's, reused.
type Writer func(scratch *Scratch)

// Scratch is a hub worker's reusable memory.
type Scratch struct {
	Items []Item
	Buf   []byte
}

// SetWriter makes the hub's workers write this stream's events through w
// instead of waking its goroutine: a message to many streams then costs a
// few busy goroutines, not one wake-up per stream.
func (st *Stream) SetWriter(w Writer) {
	st.s.mu.Lock()
	st.writer = w
	st.s.mu.Unlock()
}

// readyLocked hands new events on: to a hub worker when the stream has a
// writer (and is not queued for one already), else to its goroutine. The
// session's lock is held.
func (st *Stream) readyLocked() {
	switch {
	case st.writer == nil:
		st.signal()
	case st.queued:
	default:
		select {
		case st.h.direct <- st:
			st.queued = true
		default: // the workers are swamped: the stream writes for itself
			st.signal()
		}
	}
}

// Notify wakes the stream's goroutine.
func (st *Stream) Notify() { st.signal() }

// Item is one event with its seq in the session.
type Item struct {
	Seq   uint64
	Event *Event
}

// Epoch is the first part of this stream's event ids (see AppendID).
func (st *Stream) Epoch() string { return st.epoch }

// Wake is signalled when there may be something to take.
func (st *Stream) Wake() <-chan struct{} { return st.wake }

func (st *Stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

func (st *Stream) endLocked(err error) {
	if st.err == nil {
		st.err = err
		if err == ErrSlowConsumer {
			st.h.metrics.slowConsumers.Inc()
		}
	}
	st.wakeAllLocked()
}

// wakeAllLocked tells a stream that it must end: its goroutine, and its
// Writer too, which is all that a transport without a goroutine of its
// own per stream listens to (the realtime gateway's). The session's lock
// is held.
func (st *Stream) wakeAllLocked() {
	st.signal()
	if st.writer != nil {
		st.readyLocked()
	}
}

// TakeDirect is Take for a hub worker: it takes nothing and reports false
// when the stream must end or fell behind (its goroutine deals with that).
func (st *Stream) TakeDirect(buf []Item, max int) ([]Item, bool) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.err != nil || st.cursor < s.trimmed || s.ended || s.stream != st {
		return buf, false
	}
	buf, _ = st.takeLocked(buf, max)
	return buf, true
}

// Take returns up to max events after the stream's cursor, in seq order, and
// advances it. It returns an error once the stream must end: at once when it
// was replaced, is too slow or the hub shuts down, after the last event when
// the session ended.
func (st *Stream) Take(buf []Item, max int) ([]Item, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.err != nil {
		return buf, st.err
	}
	if st.cursor < s.trimmed {
		// Events this stream still owed were trimmed by age.
		st.endLocked(ErrSlowConsumer)
		return buf, st.err
	}
	buf, more := st.takeLocked(buf, max)
	if more {
		st.signal() // more to take
	} else if s.ended {
		return buf, ErrEnded
	}
	return buf, nil
}

// takeLocked takes up to max events, logged and room ones merged in seq
// order; more reports that some are left.
func (st *Stream) takeLocked(buf []Item, max int) (_ []Item, more bool) {
	s := st.s
	i := s.log.after(st.cursor)
	for len(buf) < max {
		var next *entry
		if i < s.log.len() {
			next = s.log.at(i)
		}
		if s.room.len() > 0 && (next == nil || s.room.front().seq < next.seq) {
			e := s.room.pop()
			buf = append(buf, Item{Seq: e.seq, Event: s.table.event(e.ref)})
			s.table.release(e.ref) // the item refers to the event now
			st.cursor = e.seq
			continue
		}
		if next == nil {
			break
		}
		i++
		buf = append(buf, Item{Seq: next.seq, Event: s.table.event(next.ref)})
		st.cursor = next.seq
	}
	return buf, i < s.log.len() || s.room.len() > 0
}

// SkipToEnd moves the cursor past everything queued, for a stream that is
// told to reset, and returns the new cursor's seq.
func (st *Stream) SkipToEnd() uint64 {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	st.cursor = st.s.seq
	st.s.room.clear(st.s.table)
	return st.cursor
}

// Close detaches the stream from its session; the session stays online for
// the offline grace and resumable for the replay window.
func (st *Stream) Close() {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	if s.stream == st {
		s.stream = nil
		s.detachedAt = st.h.opt.Now()
		s.watchOnly = false
		s.room.clear(s.table)
	}
	st.h.countStream(s.clientID, -1)
}
