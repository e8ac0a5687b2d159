package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// BenchmarkSendPath measures the writer's cost of one message send as the
// rules issued it before the writer's conversation cache: conversation and
// membership checks, the insert and the recipients' unread state, committed
// in groups by concurrent senders.
func BenchmarkSendPath(b *testing.B) {
	benchSenders(b, "normal", func(ctx context.Context, db *DB, conv string, _ int) error {
		return db.Write(ctx, func(tx *Tx) error {
			if _, err := GetConversation(ctx, tx, conv); err != nil {
				return err
			}
			if ok, err := IsMember(ctx, tx, conv, "a"); err != nil || !ok {
				return fmt.Errorf("member: %v", err)
			}
			m := &Message{ConversationID: conv, From: "a", Type: -1, Body: `{"type":-1,"text":"hello"}`, Timestamp: 1795449600000}
			if err := tx.InsertMessage(m); err != nil {
				return err
			}
			_, err := Recipients(ctx, tx, conv)
			return err
		}, nil)
	})
}

// BenchmarkQueuedSend measures the writer as the send path uses it today:
// the rules are checked against the writer's cache, so a write only queues
// its message, and each batch inserts its messages with one statement.
// Durability is full: every batch is committed and its WAL fsynced.
func BenchmarkQueuedSend(b *testing.B) {
	benchSenders(b, "full", func(ctx context.Context, db *DB, conv string, j int) error {
		m := &Message{ConversationID: conv, From: "a", Type: -1, Seq: int64(j + 1),
			Body: `{"type":-1,"text":"@1795449600000000000 hello from parley-bench"}`, Timestamp: 1795449600000}
		return db.Write(ctx, func(tx *Tx) error { tx.QueueMessage(m); return nil }, nil)
	})
}

// benchSenders runs b.N sends from 64 concurrent senders, one conversation
// each, and reports messages per second, CPU per message and the mean batch.
func benchSenders(b *testing.B, synchronous string, send func(ctx context.Context, db *DB, conv string, j int) error) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: synchronous})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const convs = 64
	for i := 0; i < convs; i++ {
		c := &Conversation{ID: fmt.Sprint("c", i), Kind: "normal", Attributes: "{}", CreatedAt: 1, UpdatedAt: 1}
		if err := db.Write(ctx, func(tx *Tx) error { return tx.InsertConversation(c, []string{"a", "b"}) }, nil); err != nil {
			b.Fatal(err)
		}
	}
	var before dto.Metric
	db.metrics.batchSize.Write(&before)
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/convs + 1
	for i := 0; i < convs; i++ {
		wg.Add(1)
		go func(conv string) {
			defer wg.Done()
			for j := 0; j < per; j++ {
				if err := send(ctx, db, conv, j); err != nil {
					b.Error(err)
					return
				}
			}
		}(fmt.Sprint("c", i))
	}
	wg.Wait()
	b.ReportMetric(float64(per*convs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(per*convs), "cpu-µs/msg")
	var after dto.Metric
	db.metrics.batchSize.Write(&after)
	if n := after.GetHistogram().GetSampleCount() - before.GetHistogram().GetSampleCount(); n > 0 {
		sum := after.GetHistogram().GetSampleSum() - before.GetHistogram().GetSampleSum()
		b.ReportMetric(sum/float64(n), "writes/commit")
	}
}

// cpuTime is the CPU this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
