package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func BenchmarkZZSendPath(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, s := range strings.Split(os.Getenv("ZZ_SETUP"), ";") {
		if s != "" {
			if _, err := db.write.Exec(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	const convs = 64
	for i := 0; i < convs; i++ {
		c := &Conversation{ID: fmt.Sprint("c", i), Kind: "normal", Attributes: `{"topic":"x","level":3,"tags":["a","b"]}`, CreatedAt: 1, UpdatedAt: 1}
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

func BenchmarkZZTrigger(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, s := range strings.Split(os.Getenv("ZZ_SETUP"), ";") {
		if s != "" {
			if _, err := db.write.Exec(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	const convs = 10000
	err = db.Write(ctx, func(tx *Tx) error {
		for i := 0; i < convs; i++ {
			c := &Conversation{ID: fmt.Sprintf("%020d", i*7919%convs), Kind: "normal", Attributes: `{"topic":"x","level":3,"tags":["a","b"]}`, CreatedAt: 1, UpdatedAt: 1}
			if err := tx.InsertConversation(c, []string{"a", "b"}); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.write.Beginx()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.Preparex("INSERT INTO messages (mid, conversation_id, seq, from_id, type, body, timestamp) VALUES (?, ?, ?, 'a', -1, '{}', ?)")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := stmt.Exec(i+1, fmt.Sprintf("%020d", i%convs), i+1, 1795449600000+int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
