package events

// Stream is the single reader of one session's events: the writer of an SSE
// response (or of any other transport) takes batches from it and writes them.
type Stream struct {
	h      *Hub
	s      *session
	epoch  string
	cursor uint64 // seq of the last event taken
	wake   chan struct{}
	err    error // set when the stream must end
	closed bool
	// roomWriter, when set, writes waiting room events from a hub worker.
	// Guarded by the session's lock.
	roomWriter RoomWriter
}

// A RoomWriter writes a stream's waiting chat-room events (TakeRoom) to its
// peer on a hub worker, without blocking; what it cannot write now it leaves
// to the stream's own goroutine (Notify). scratch is the worker's, reused.
type RoomWriter func(scratch *RoomScratch)

// RoomScratch is a room worker's reusable memory.
type RoomScratch struct {
	Items []Item
	Buf   []byte
}

// SetRoomWriter makes the hub's room workers write this stream's room
// events through w instead of waking its goroutine.
func (st *Stream) SetRoomWriter(w RoomWriter) {
	st.s.mu.Lock()
	st.roomWriter = w
	st.s.mu.Unlock()
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
			SlowConsumers.Inc()
		}
	}
	st.signal()
}

// TakeRoom is Take for a room worker: it takes waiting room events only
// when nothing else waits before them and the stream is not ending;
// otherwise it takes nothing and reports false (the stream's goroutine must
// take them).
func (st *Stream) TakeRoom(buf []Item, max int) ([]Item, bool) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.err != nil || st.cursor < s.trimmed || s.log.after(st.cursor) < s.log.len() {
		return buf, false
	}
	for len(buf) < max && s.room.len() > 0 {
		e := s.room.pop()
		buf = append(buf, Item{Seq: e.seq, Event: e.ev})
		st.cursor = e.seq
	}
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
	i := s.log.after(st.cursor)
	for len(buf) < max {
		var next *entry
		if i < s.log.len() {
			next = s.log.at(i)
		}
		if s.room.len() > 0 && (next == nil || s.room.front().seq < next.seq) {
			e := s.room.pop()
			next = &e
		} else if next != nil {
			i++
		} else {
			break
		}
		buf = append(buf, Item{Seq: next.seq, Event: next.ev})
		st.cursor = next.seq
	}
	if i < s.log.len() || s.room.len() > 0 {
		st.signal() // more to take
	} else if s.ended {
		return buf, ErrEnded
	}
	return buf, nil
}

// SkipToEnd moves the cursor past everything queued, for a stream that is
// told to reset, and returns the new cursor's seq.
func (st *Stream) SkipToEnd() uint64 {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	st.cursor = st.s.seq
	st.s.room.clear()
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
		s.room.clear()
	}
	streamsOpen.Dec()
}
