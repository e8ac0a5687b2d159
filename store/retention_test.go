package store

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// insertMessageAt stores a message with exactly this id, as if it had been
// sent at the time the id encodes.
func insertMessageAt(t *testing.T, db *DB, convID string, mid int64) {
	t.Helper()
	err := db.Write(ctx, func(tx *Tx) error {
		var seq int64
		if err := tx.Get(&seq, "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", convID); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO messages (mid, conversation_id, seq, from_id, type, body, timestamp)
			VALUES (?, ?, ?, 'tom', -1, '{}', ?)`, mid, convID, seq, mid>>12)
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func messageIDs(t *testing.T, db *DB) []int64 {
	t.Helper()
	ids := []int64{}
	if err := db.read.Select(&ids, "SELECT mid FROM messages ORDER BY mid"); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPurgeMessagesBefore(t *testing.T) {
	const day = 24 * 3600 * 1000
	const now = int64(1_800_000_000_000)
	cutoff := now - 180*day

	tests := []struct {
		name   string
		old    int // messages before the cutoff
		recent int // messages at or after it
		batch  int
	}{
		{"nothing to purge", 0, 3, 10},
		{"all old", 5, 0, 10},
		{"mixed, one batch", 4, 3, 10},
		{"several batches", 7, 2, 3},
		{"exact multiple of the batch", 6, 2, 3},
		{"batch of one", 3, 1, 1},
		{"default batch", 4, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t, Options{})
			seedConversation(t, db, "c1", 0, now)
			seedConversation(t, db, "c2", 0, now)
			var keep []int64
			for i := range tt.old {
				// Spread over both conversations, the newest a millisecond before the cutoff.
				ms := cutoff - 1 - int64(tt.old-1-i)*day
				insertMessageAt(t, db, []string{"c1", "c2"}[i%2], MIDBefore(ms)+int64(i%4))
			}
			for i := range tt.recent {
				// The first exactly at the cutoff (its first id), which stays.
				mid := MIDBefore(cutoff + int64(i)*day)
				insertMessageAt(t, db, []string{"c2", "c1"}[i%2], mid)
				keep = append(keep, mid)
			}
			n, err := db.PurgeMessagesBefore(ctx, cutoff, tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(tt.old) {
				t.Errorf("purged %d, want %d", n, tt.old)
			}
			if got := messageIDs(t, db); !slices.Equal(got, keep) {
				t.Errorf("left %v, want %v", got, keep)
			}
			// Purging again finds nothing.
			if n, err := db.PurgeMessagesBefore(ctx, cutoff, tt.batch); err != nil || n != 0 {
				t.Errorf("second purge: %d, %v", n, err)
			}
		})
	}
}

func TestPurgeMessagesStopsWithContext(t *testing.T) {
	db := openTestDB(t, Options{})
	seedConversation(t, db, "c1", 0, 1)
	insertMessageAt(t, db, "c1", MIDBefore(1000))
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.PurgeMessagesBefore(c, 2000, 10); err == nil {
		t.Error("a cancelled purge reported success")
	}
}

// The purge walks the primary key, never the whole table.
func TestPurgeUsesPrimaryKey(t *testing.T) {
	db := openTestDB(t, Options{})
	var plan []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	err := db.read.Select(&plan, `EXPLAIN QUERY PLAN DELETE FROM messages WHERE mid IN
		(SELECT mid FROM messages WHERE mid < ? ORDER BY mid LIMIT ?)`, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, p := range plan {
		details = append(details, p.Detail)
	}
	all := strings.Join(details, "\n")
	if strings.Contains(all, "SCAN messages") || !strings.Contains(all, "INTEGER PRIMARY KEY") {
		t.Errorf("query plan does not use the primary key:\n%s", all)
	}
}

// The mentions of purged messages go with them; later ones stay.
func TestPurgeDeletesMentions(t *testing.T) {
	const cutoff = int64(1_800_000_000_000)
	db := openTestDB(t, Options{})
	seedConversation(t, db, "c1", 0, 1)
	seedConversation(t, db, "c2", 0, 1)
	// c1 seq 1-3 and c2 seq 1 are old; c1 seq 4-5 and c2 seq 2 recent.
	for i := range 3 {
		insertMessageAt(t, db, "c1", MIDBefore(cutoff-100)+int64(i))
	}
	insertMessageAt(t, db, "c2", MIDBefore(cutoff-50))
	for i := range 2 {
		insertMessageAt(t, db, "c1", MIDBefore(cutoff+10)+int64(i))
	}
	insertMessageAt(t, db, "c2", MIDBefore(cutoff+20))
	mention := func(conv, who string, seq int) {
		err := db.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO mentions(conversation_id, client_id, seq, from_id) VALUES (?, ?, ?, 'tom')", conv, who, seq)
			return err
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	mention("c1", "jerry", 2)
	mention("c1", "*", 3)
	mention("c1", "jerry", 5)
	mention("c2", "jerry", 1)
	mention("c2", "*", 2)

	// Batches of two: the mentions go batch by batch with their messages.
	if n, err := db.PurgeMessagesBefore(ctx, cutoff, 2); err != nil || n != 4 {
		t.Fatalf("purged %d, %v; want 4", n, err)
	}
	var left []string
	if err := db.read.Select(&left, "SELECT conversation_id || ':' || client_id || ':' || seq FROM mentions ORDER BY 1"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1:jerry:5", "c2:*:2"}; !slices.Equal(left, want) {
		t.Errorf("mentions left %v, want %v", left, want)
	}
}
