package events

import "runtime"

// workerYield is how many streams a worker writes to before it lets the
// sends and commits waiting for a core go first.
const workerYield = 64

// worker writes waiting events to streams through their Writer, or wakes
// the streams that have none: the seats of rooms being handed on, and the
// streams that got other events.
func (h *Hub) worker() {
	defer h.wg.Done()
	var scratch Scratch
	written := 0
	deliver := func(st *Stream, w Writer) {
		if w == nil {
			st.signal()
			return
		}
		w(&scratch)
		if written++; written%workerYield == 0 {
			runtime.Gosched()
		}
	}
	for {
		select {
		case <-h.stop:
			return
		case st := <-h.direct:
			s := st.s
			s.mu.Lock()
			st.queued = false
			current, w := s.stream == st, st.writer
			s.mu.Unlock()
			if current {
				deliver(st, w)
			}
		case seats := <-h.roomWork:
			for _, s := range seats {
				s.mu.Lock()
				st := s.stream
				due := st != nil && s.room.len() > 0
				var w Writer
				if due {
					w = st.writer
				}
				s.mu.Unlock()
				if due {
					deliver(st, w)
				}
			}
		}
	}
}
