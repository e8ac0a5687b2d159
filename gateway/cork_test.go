package gateway

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// writes records what reaches the connection, one entry a write(2).
type writes struct {
	net.Conn
	got [][]byte
	err error
}

func (w *writes) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.got = append(w.got, bytes.Clone(p))
	return len(p), nil
}

func TestCorkWriter(t *testing.T) {
	nc := &writes{}
	w := &corkWriter{nc: nc}
	w.Write([]byte("a"))
	w.cork()
	w.Write([]byte("b"))
	w.Write([]byte("c"))
	if len(nc.got) != 1 {
		t.Fatalf("corked writes reached the connection: %q", nc.got)
	}
	if err := w.uncork(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("d"))
	want := []string{"a", "bc", "d"}
	if len(nc.got) != len(want) {
		t.Fatalf("writes %q, want %q", nc.got, want)
	}
	for i := range want {
		if string(nc.got[i]) != want[i] {
			t.Fatalf("writes %q, want %q", nc.got, want)
		}
	}
	if err := w.uncork(); err != nil || len(nc.got) != 3 {
		t.Fatalf("uncork while not corked: %v, writes %q", err, nc.got)
	}

	// Past corkLimit, what is held is written.
	nc.got = nil
	w.cork()
	big := make([]byte, corkLimit)
	w.Write(big[:corkLimit-1])
	w.Write(big[:2])
	if len(nc.got) != 1 || len(nc.got[0]) != corkLimit+1 {
		t.Fatalf("past the limit: %d writes", len(nc.got))
	}
	w.uncork()

	// A failed write while corked is uncork's error.
	nc.got, nc.err = nil, errors.New("broken")
	w.cork()
	w.Write([]byte("e"))
	if err := w.uncork(); err == nil {
		t.Fatal("uncork hid the connection's error")
	}
}
