package handlers

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// newService is a Service with cfg on a fresh database and hub (on cfg's
// clock), closed when the test ends.
func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "parley.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hub := events.NewHub(events.Options{Now: cfg.Now})
	t.Cleanup(hub.Close)
	return New(cfg, db, hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// clockedService is newService on a clock the test moves by changing
// *clock.
func clockedService(t *testing.T, cfg Config) (s *Service, clock *time.Time) {
	t.Helper()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock = &at
	cfg.Now = func() time.Time { return *clock }
	return newService(t, cfg), clock
}
