package gateway

import (
	"net"
	"sync"
)

// corkWriter is what coder/websocket's buffered writer writes to: the
// connection, or, while the flusher writes a batch of pushes (cork …
// uncork), a buffer that goes to the connection in one write(2) at the
// end. coder/websocket flushes after every frame, so without it a message
// and the unread push after it cost a system call each, where an SSE
// stream writes a batch of events at once.
//
// Every byte goes through Write in the connection's order (coder/websocket
// serialises frames), and uncork writes what was held before anything
// written after it, so the stream stays in order whoever writes: a pong
// from the reader, or a command's answer, written while corked waits for
// the uncork (at most the translation of the flusher's batch).
type corkWriter struct {
	nc  net.Conn
	mu  sync.Mutex
	buf *[]byte // while corked
	err error   // of a write while corked, for uncork
}

// corkLimit bounds what a corked writer holds: past it, it writes.
const corkLimit = 32 << 10

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (w *corkWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		return w.nc.Write(p)
	}
	if w.err != nil {
		return 0, w.err
	}
	*w.buf = append(*w.buf, p...)
	if len(*w.buf) >= corkLimit {
		_, w.err = w.nc.Write(*w.buf)
		*w.buf = (*w.buf)[:0]
	}
	return len(p), w.err
}

// cork holds writes until uncork.
func (w *corkWriter) cork() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		w.buf = corkBufs.Get().(*[]byte)
		w.err = nil
	}
}

// uncork writes what was held, and later writes go through; its error is
// the first of the writes since cork.
func (w *corkWriter) uncork() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		return nil
	}
	b, err := w.buf, w.err
	w.buf, w.err = nil, nil
	if err == nil && len(*b) > 0 {
		_, err = w.nc.Write(*b)
	}
	if cap(*b) <= corkLimit*2 {
		*b = (*b)[:0]
		corkBufs.Put(b)
	}
	return err
}
