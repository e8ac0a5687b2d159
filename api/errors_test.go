package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

// A write the full disk refused is a 503 to retry, never a 500, whatever
// failed for want of space: SQLite (TestDiskFull, integration), the WAL's
// fsync or an upload's bytes (ENOSPC).
func TestFaultOfAFullDisk(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enospc := func(op, path string) error { return &os.PathError{Op: op, Path: path, Err: syscall.ENOSPC} }
	for _, err := range []error{
		fmt.Errorf("store: committed but not made durable: %w", enospc("sync", "parley.db-wal")),
		fmt.Errorf("files: write: %w", enospc("write", "files/.upload-1")),
	} {
		p, ok := fault(context.Background(), log, err).(*Problem)
		if !ok || p.Status != http.StatusServiceUnavailable || p.Code != codeUnavailable || !strings.Contains(p.Detail, "disk is full") {
			t.Errorf("%v: %+v", err, p)
			continue
		}
		if ra := p.GetHeaders().Get("Retry-After"); ra != "30" {
			t.Errorf("%v: Retry-After %q, want 30", err, ra)
		}
	}
	p, _ := fault(context.Background(), log, errors.New("something else")).(*Problem)
	if p == nil || p.Status != http.StatusInternalServerError || p.GetHeaders().Get("Retry-After") != "" {
		t.Errorf("another failure: %+v", p)
	}
}

// /readyz says "disk full" while the most recent write failed for want of
// space; a server out of rotation gets no writes, so after a while /readyz
// tries one itself and is ready again once it succeeds.
func TestReadyWhileTheDiskIsFull(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "p.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(Options{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	exec := func(sql string, args ...any) error {
		return db.Write(ctx, func(tx *store.Tx) error { _, err := tx.Exec(sql, args...); return err }, nil)
	}
	ready := func() (int, string) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := ready(); code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	var pages int
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.Get(&pages, "PRAGMA page_count") }, nil); err != nil {
		t.Fatal(err)
	}
	if err := exec(fmt.Sprint("PRAGMA max_page_count = ", pages)); err != nil {
		t.Fatal(err)
	}
	if err := exec("INSERT INTO settings(key, value) VALUES ('big', ?)", strings.Repeat("x", 64<<10)); !store.IsDiskFull(err) {
		t.Fatalf("a write beyond max_page_count: %v", err)
	}
	code, body := ready()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") {
		t.Errorf("/readyz on a full disk: %d %s", code, body)
	}

	// Room again, but the last write (an upload, say) failed: not ready
	// until /readyz's own write succeeds.
	if err := exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	s.probeAfter = time.Hour
	db.NoteWrite(&os.PathError{Op: "write", Path: "files/.upload-1", Err: syscall.ENOSPC}) // as an upload notes it
	if code, _ := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before its probe: %d", code)
	}
	s.probeAfter = 0
	if code, body := ready(); code != http.StatusOK {
		t.Errorf("/readyz once its own write succeeded: %d %s", code, body)
	}
}

// writeProblem writes a problem's headers (Retry-After, WWW-Authenticate),
// type, status and JSON, its detail as it is (no HTML escapes).
func TestWriteProblem(t *testing.T) {
	p := diskFull()
	w := httptest.NewRecorder()
	writeProblem(responseWriter{w}, p)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "30" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("disk full: %d %v", w.Code, w.Header())
	}
	if body := w.Body.String(); !strings.HasPrefix(body, `{"title":"Service Unavailable","status":503,"code":"SERVICE_UNAVAILABLE","detail":"the server's disk is full; retry later"}`) {
		t.Errorf("disk full: body %s", body)
	}
	w = httptest.NewRecorder()
	writeProblem(responseWriter{w}, newProblem(http.StatusUnauthorized, "UNAUTHORIZED", "a <token> & more"))
	if w.Header().Get("WWW-Authenticate") != `Bearer realm="parley"` || !strings.Contains(w.Body.String(), `"a <token> & more"`) {
		t.Errorf("401: %v %s", w.Header(), w.Body)
	}
}
