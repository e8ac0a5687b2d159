package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The log's buffer: a warning reaches stderr at once, info lines within a
// flush interval, and whatever is left when the log closes.
func TestBufferedLog(t *testing.T) {
	var out lockedBuffer
	b := newBufferedLog(&out)
	log := slog.New(flushingHandler{slog.NewTextHandler(b, nil), b})
	log.Info("request", "n", 1)
	log.Warn("something odd")
	if s := out.String(); !strings.Contains(s, "n=1") || !strings.Contains(s, "something odd") {
		t.Fatalf("after a warning the log holds %q; want both lines written", s)
	}
	log.Info("request", "n", 2)
	deadline := time.Now().Add(10 * logFlushEvery)
	for !strings.Contains(out.String(), "n=2") {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was not written out within %s", 10*logFlushEvery)
		}
		time.Sleep(logFlushEvery / 4)
	}
	log.Info("request", "n", 3)
	b.close()
	if !strings.Contains(out.String(), "n=3") {
		t.Fatal("close did not write out the last line")
	}
}
