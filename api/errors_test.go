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
	"strings"
	"syscall"
	"testing"
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
