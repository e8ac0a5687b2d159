package handlers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

// Ready says the disk is full while the most recent write failed for want
// of space; a server out of rotation gets no writes, so after a while Ready
// tries one itself and is ready again once it succeeds. Once the database
// closes, it is not ready, and not for a full disk.
func TestReadyWhileTheDiskIsFull(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(Config{}, db, nil, nil)
	ctx := context.Background()
	exec := func(sql string, args ...any) error {
		return db.Write(ctx, func(tx *store.Tx) error { _, err := tx.Exec(sql, args...); return err }, nil)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	var pages int
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.Get(&pages, "PRAGMA page_count") }, nil); err != nil {
		t.Fatal(err)
	}
	if err := exec(fmt.Sprint("PRAGMA max_page_count = ", pages)); err != nil {
		t.Fatal(err)
	}
	err = exec("INSERT INTO settings(key, value) VALUES ('big', ?)", strings.Repeat("x", 64<<10))
	if !IsDiskFull(err) || IsUnavailable(err) {
		t.Fatalf("a write beyond max_page_count: %v", err)
	}
	if err := s.Ready(ctx); !IsDiskFull(err) {
		t.Errorf("Ready on a full disk: %v", err)
	}

	// Room again, but the last write (an upload, say) failed: not ready
	// until Ready's own write succeeds.
	if err := exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	s.probeAfter = time.Hour
	db.NoteWrite(&os.PathError{Op: "write", Path: "files/.upload-1", Err: syscall.ENOSPC}) // as an upload notes it
	if err := s.Ready(ctx); !IsDiskFull(err) {
		t.Errorf("Ready before its probe: %v", err)
	}
	s.probeAfter = 0
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready once its own write succeeded: %v", err)
	}

	if s.ShuttingDown() {
		t.Error("shutting down before the database closes")
	}
	db.Close()
	if !s.ShuttingDown() {
		t.Error("not shutting down once the database closed")
	}
	if err := s.Ready(ctx); err == nil || IsDiskFull(err) {
		t.Errorf("Ready once the database closed: %v", err)
	}
	if err := exec("SELECT 1"); !IsUnavailable(err) || IsDiskFull(err) {
		t.Errorf("a write once the database closed: %v", err)
	}
}
