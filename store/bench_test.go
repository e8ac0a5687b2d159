package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
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
