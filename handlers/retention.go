package handlers

import (
	"context"
	"time"
)

// purgeBatch is how many messages one write of the retention purge deletes:
// small enough that the writer moves on to other writes within milliseconds.
const purgeBatch = 500

// PurgeMessagesBefore deletes every message sent before cutoff, in batches,
// and returns how many it deleted.
func (s *Service) PurgeMessagesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	return s.db.PurgeMessagesBefore(ctx, cutoff.UnixMilli(), purgeBatch)
}

// RunRetention purges the messages older than age once after first and then
// every interval, until ctx ends. An age of 0 or less keeps messages forever.
func (s *Service) RunRetention(ctx context.Context, age, first, every time.Duration) {
	if age <= 0 {
		return
	}
	runEvery(ctx, first, every, func() {
		cutoff := s.now().Add(-age)
		n, err := s.PurgeMessagesBefore(ctx, cutoff)
		if err != nil && ctx.Err() == nil {
			s.log.Error("retention: purge old messages", "err", err, "purged", n)
		} else if n > 0 {
			s.log.Info("retention: purged old messages", "count", n, "before", cutoff.UTC().Format(time.RFC3339))
		}
	})
}
