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
// rules issue it: conversation and membership checks, the insert and the
// recipients' unread state, committed in groups by concurrent senders.
func BenchmarkSendPath(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: "normal"})
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
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/convs + 1
	for i := 0; i < convs; i++ {
		wg.Add(1)
		go func(conv string) {
			defer wg.Done()
			for j := 0; j < per; j++ {
				err := db.Write(ctx, func(tx *Tx) error {
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
				if err != nil {
					b.Error(err)
					return
				}
			}
		}(fmt.Sprint("c", i))
	}
	wg.Wait()
	b.ReportMetric(float64(per*convs)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkQueuedSend measures the writer as the send path uses it today:
// the rules are checked against the writer's cache, so a write only queues
// its message, and each batch inserts its messages with one statement.
// Durability is full: every batch is committed and its WAL fsynced.
func BenchmarkQueuedSend(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: "full"})
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
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/convs + 1
	for i := 0; i < convs; i++ {
		wg.Add(1)
		go func(conv string) {
			defer wg.Done()
			for j := 0; j < per; j++ {
				m := &Message{ConversationID: conv, From: "a", Type: -1, Seq: int64(j + 1),
					Body: `{"type":-1,"text":"@1795449600000000000 hello from parley-bench"}`, Timestamp: 1795449600000}
				if err := db.Write(ctx, func(tx *Tx) error { tx.QueueMessage(m); return nil }, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}(fmt.Sprint("c", i))
	}
	wg.Wait()
	b.ReportMetric(float64(per*convs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(per*convs), "cpu-µs/msg")
	var m dto.Metric
	batchSize.Write(&m)
	if h := m.GetHistogram(); h.GetSampleCount() > 0 {
		b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "writes/commit")
	}
}

// cpuTime is the CPU this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
