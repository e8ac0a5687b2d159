package events

// Stream is the single reader of one session's events: the writer of an SSE
// response (or of any other transport) takes batches from it and writes them.
type Stream struct {
	h      *Hub
	s      *session
	cursor uint64 // seq of the last event taken
	wake   chan struct{}
	err    error // set when the stream must end; reported once the log is drained where that applies
	closed bool
}

// Item is one event with the cursor that identifies it.
type Item struct {
	ID    string
	Event *Event
}

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
	}
	st.signal()
}

// Take returns up to max events after the stream's cursor and advances it.
// It returns an error once the stream must end: at once when it was replaced,
// is too slow or the hub shuts down, after the last event when the session
// ended.
func (st *Stream) Take(buf []Item, max int) ([]Item, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.err != nil {
		return buf, st.err
	}
	first := s.firstSeq()
	if st.cursor+1 < first {
		// Events this stream still owed were trimmed by age.
		st.err = ErrSlowConsumer
		return buf, st.err
	}
	for st.cursor < s.seq && len(buf) < max {
		e := s.log.at(int(st.cursor + 1 - first))
		buf = append(buf, Item{ID: formatID(s.epoch, e.seq), Event: e.ev})
		st.cursor = e.seq
	}
	if st.cursor < s.seq {
		st.signal() // more to take
	} else if s.ended {
		return buf, ErrEnded
	}
	return buf, nil
}

// Cursor is the id of the last event taken: where a client resumes from.
func (st *Stream) Cursor() string {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	return formatID(st.s.epoch, st.cursor)
}

// SkipToEnd moves the cursor past everything logged, for a stream that is
// told to reset, and returns the new cursor.
func (st *Stream) SkipToEnd() string {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	st.cursor = st.s.seq
	return formatID(st.s.epoch, st.cursor)
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
	}
	streamsOpen.Dec()
}
