package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-im/parley/store"
)

// DiskFullRetry is how soon a client is told to retry a write the full disk
// refused (Retry-After), and how long Ready, while the disk is full, waits
// before it tries a write of its own.
const DiskFullRetry = 30 * time.Second

// errDiskFull is Ready's answer while the most recent write failed for want
// of disk space.
var errDiskFull = errors.New("handlers: the disk is full: the most recent write failed for want of space")

// Ready reports whether the service can take requests: nil, or why not: the
// database does not answer, or the most recent write failed for want of
// disk space (IsDiskFull). A server out of rotation gets no writes that
// could show the disk has room again, so DiskFullRetry after such a failure
// Ready tries one small write itself, and is ready once it succeeds.
func (s *Service) Ready(ctx context.Context) error {
	if s.db == nil {
		return nil // rules without a database (tests) have nothing to wait for
	}
	if err := s.db.Ping(ctx); err != nil {
		return fmt.Errorf("handlers: the database does not answer: %w", err)
	}
	if since, full := s.db.DiskFull(); full && (time.Since(since) < s.probeAfter || s.db.ProbeWrite(ctx) != nil) {
		return errDiskFull
	}
	return nil
}

// IsDiskFull reports whether err is a write refused for want of disk space
// (by SQLite, the WAL's fsync or an upload's bytes), or Ready saying the disk
// is full: the request may succeed later, once there is room.
func IsDiskFull(err error) bool {
	return errors.Is(err, errDiskFull) || store.IsDiskFull(err)
}

// IsUnavailable reports whether err is a write refused because the database
// is closing (the server shuts down): the request may succeed elsewhere, or
// here after a restart.
func IsUnavailable(err error) bool {
	return errors.Is(err, store.ErrClosed)
}

// ShuttingDown reports whether the database has begun closing: failures
// from then on are the shutdown's, not faults to log.
func (s *Service) ShuttingDown() bool {
	return s.db != nil && s.db.Closed()
}
