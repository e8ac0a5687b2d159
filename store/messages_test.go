package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// seedConversation stores conversation id with n messages; message i
// (1-based) has type -2 when i is a multiple of 3, else -1, and body "m<i>".
// It returns the message ids by index (ids[0] unused).
func seedConversation(t *testing.T, db *DB, id string, n int, ts int64) []int64 {
	t.Helper()
	ids := storeConversation(t, db, id, ts, n, func(k int) (string, int, int64) {
		i := k + 1
		typ := -1
		if i%3 == 0 {
			typ = -2
		}
		return fmt.Sprintf("m%d", i), typ, int64(i)
	})
	return append([]int64{0}, ids...)
}

// storeConversation stores conversation id (tom and jerry) with n messages
// from tom, the k-th (0-based) as msg(k) says: its body, its type and its
// time as an offset from ts. It returns the ids in the order stored.
func storeConversation(t *testing.T, db *DB, id string, ts int64, n int, msg func(k int) (body string, typ int, offset int64)) []int64 {
	t.Helper()
	ids := make([]int64, n)
	err := db.Write(ctx, func(tx *Tx) error {
		if err := tx.InsertConversation(&Conversation{ID: id, Kind: "normal", Attributes: "{}", CreatedAt: ts, UpdatedAt: ts}, []string{"tom", "jerry"}); err != nil {
			return err
		}
		for k := range n {
			body, typ, off := msg(k)
			m := &Message{ConversationID: id, From: "tom", Type: typ, Body: body, Timestamp: ts + off}
			if err := tx.InsertMessage(m); err != nil {
				return err
			}
			ids[k] = m.MID
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestHistory(t *testing.T) {
	db := openTestDB(t, Options{})
	const ts = 1_790_000_000_000
	ids := seedConversation(t, db, "c1", 10, ts)
	seedConversation(t, db, "c2", 5, ts) // must never show up in c1's history
	typ := func(v int) *int { return &v }

	tests := []struct {
		name  string
		q     HistoryQuery
		want  []int // message indexes, ascending; includes the extra row
		extra bool  // whether the result holds limit+1 rows
	}{
		{"newest page", HistoryQuery{Limit: 3}, []int{7, 8, 9, 10}, true},
		{"newest page, all fit", HistoryQuery{Limit: 10}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
		{"newest page, more than all", HistoryQuery{Limit: 50}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
		{"limit 1", HistoryQuery{Limit: 1}, []int{9, 10}, true},
		{"before", HistoryQuery{Before: ids[5], Limit: 2}, []int{2, 3, 4}, true},
		{"before, reaching the start", HistoryQuery{Before: ids[3], Limit: 2}, []int{1, 2}, false},
		{"before, exactly the rest", HistoryQuery{Before: ids[4], Limit: 3}, []int{1, 2, 3}, false},
		{"before the first", HistoryQuery{Before: ids[1], Limit: 5}, []int{}, false},
		{"after", HistoryQuery{After: ids[5], Limit: 2}, []int{6, 7, 8}, true},
		{"after, reaching the end", HistoryQuery{After: ids[8], Limit: 2}, []int{9, 10}, false},
		{"after the last", HistoryQuery{After: ids[10], Limit: 5}, []int{}, false},
		{"after, one short of the end", HistoryQuery{After: ids[7], Limit: 2}, []int{8, 9, 10}, true},
		{"type filter", HistoryQuery{Type: typ(-2), Limit: 2}, []int{3, 6, 9}, true},
		{"type filter, all fit", HistoryQuery{Type: typ(-2), Limit: 3}, []int{3, 6, 9}, false},
		{"type filter before", HistoryQuery{Type: typ(-1), Before: ids[7], Limit: 2}, []int{2, 4, 5}, true},
		{"type filter after", HistoryQuery{Type: typ(-1), After: ids[2], Limit: 3}, []int{4, 5, 7, 8}, true},
		{"type with no messages", HistoryQuery{Type: typ(5), Limit: 3}, []int{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.ConversationID = "c1"
			got, err := History(ctx, db.R(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("nil slice; want an empty one for an empty page")
			}
			gotIdx := []int{}
			for _, m := range got {
				if m.ConversationID != "c1" {
					t.Fatalf("message of %s in c1's history", m.ConversationID)
				}
				i := slices.Index(ids, m.MID)
				if i < 1 || m.Body != fmt.Sprintf("m%d", i) {
					t.Fatalf("unexpected message %+v", m)
				}
				gotIdx = append(gotIdx, i)
			}
			if !slices.Equal(gotIdx, tt.want) {
				t.Errorf("got messages %v, want %v", gotIdx, tt.want)
			}
			if extra := len(got) > q.Limit; extra != tt.extra {
				t.Errorf("%d rows for limit %d: extra row %v, want %v", len(got), q.Limit, extra, tt.extra)
			}
		})
	}
}

// The type index leaves text messages out (they are most messages, and
// indexing them cost every send a page write): a page of another type is
// read from it, a page of texts from the conversation's message index; an
// edit that changes a message's type moves it in or out of the index.
func TestHistoryByTypeIndexes(t *testing.T) {
	db := openTestDB(t, Options{})
	const ts = 1_790_000_000_000
	ids := seedConversation(t, db, "c1", 9, ts) // images: 3, 6, 9
	typ := func(v int) *int { return &v }
	for _, c := range []struct {
		typ   int
		index string
	}{{-2, "messages_by_time_type"}, {-1, "messages_by_time"}} {
		query, args := historySQL(HistoryQuery{ConversationID: "c1", Type: typ(c.typ), Limit: 20})
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := db.read.Select(&plan, "EXPLAIN QUERY PLAN "+query, args...); err != nil {
			t.Fatal(err)
		}
		if len(plan) != 1 || !strings.Contains(plan[0].Detail, "INDEX "+c.index+" ") {
			t.Errorf("type %d: plan %+v, want a search of %s", c.typ, plan, c.index)
		}
	}
	err := db.Write(ctx, func(tx *Tx) error {
		patched := int64(ts + 100)
		if err := tx.UpdateMessage(&Message{MID: ids[6], Type: -1, Body: "m6", PatchedAt: &patched}); err != nil { // image → text
			return err
		}
		return tx.UpdateMessage(&Message{MID: ids[4], Type: -2, Body: "m4", PatchedAt: &patched}) // text → image
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		typ  int
		want []int64
	}{{-2, []int64{ids[3], ids[4], ids[9]}}, {-1, []int64{ids[1], ids[2], ids[5], ids[6], ids[7], ids[8]}}} {
		got, err := History(ctx, db.R(), HistoryQuery{ConversationID: "c1", Type: typ(c.typ), Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		var mids []int64
		for _, m := range got {
			mids = append(mids, m.MID)
		}
		if !slices.Equal(mids, c.want) {
			t.Errorf("type %d after edits: %v, want %v", c.typ, mids, c.want)
		}
	}
}

// timedConversation stores conversation id with messages sent at the given
// offsets from ts, in that order (an offset smaller than the one before is
// a clock that stepped back: a later id, an earlier time), and body "m<i>"
// for the i-th (0-based), an image (type -2) when i is odd. It returns the
// ids in the order sent.
func timedConversation(t *testing.T, db *DB, id string, ts int64, offsets ...int64) []int64 {
	t.Helper()
	return storeConversation(t, db, id, ts, len(offsets), func(i int) (string, int, int64) {
		typ := -1
		if i%2 == 1 {
			typ = -2
		}
		return fmt.Sprintf("m%d", i), typ, offsets[i]
	})
}

// History pages by time (beforeTime, afterTime: bounds excluded) and by
// message id in the contract's order of messages, (timestamp, id): a
// message sent after the clock stepped back has a later id but comes
// before the messages of a later time; messages of the same millisecond go
// by id. beforeTime alone is the newest limit older than it, afterTime
// alone the oldest limit newer than it, both the newest limit inside the
// range; the extra row says whether more lie beyond the page in the
// direction of paging.
func TestHistoryByTime(t *testing.T) {
	db := openTestDB(t, Options{})
	const ts = 1_790_000_000_000
	// In (timestamp, id) order: m0 (10), m5 (15, sent last), m1, m2 (20),
	// m3 (30), m4 (40). m1, m3 and m5 are images (type -2).
	ids := timedConversation(t, db, "c1", ts, 10, 20, 20, 30, 40, 15)
	timedConversation(t, db, "c2", ts, 10, 20, 30) // never in c1's pages
	at := func(off int64) *int64 { v := ts + off; return &v }
	typ := func(v int) *int { return &v }
	tests := []struct {
		name  string
		q     HistoryQuery
		want  []int // message indexes in the order returned, the extra row included
		extra bool
	}{
		{"everything, in time order", HistoryQuery{Limit: 10}, []int{0, 5, 1, 2, 3, 4}, false},
		{"newest 2", HistoryQuery{Limit: 2}, []int{2, 3, 4}, true},
		{"beforeTime", HistoryQuery{BeforeTime: at(30), Limit: 2}, []int{5, 1, 2}, true},
		{"beforeTime excludes its bound", HistoryQuery{BeforeTime: at(20), Limit: 5}, []int{0, 5}, false},
		{"beforeTime, exactly the rest", HistoryQuery{BeforeTime: at(20), Limit: 2}, []int{0, 5}, false},
		{"beforeTime before everything", HistoryQuery{BeforeTime: at(10), Limit: 5}, []int{}, false},
		{"beforeTime after everything", HistoryQuery{BeforeTime: at(1000), Limit: 2}, []int{2, 3, 4}, true},
		{"afterTime", HistoryQuery{AfterTime: at(10), Limit: 2}, []int{5, 1, 2}, true},
		{"afterTime excludes its bound", HistoryQuery{AfterTime: at(20), Limit: 5}, []int{3, 4}, false},
		{"afterTime, exactly the rest", HistoryQuery{AfterTime: at(15), Limit: 4}, []int{1, 2, 3, 4}, false},
		{"afterTime after everything", HistoryQuery{AfterTime: at(40), Limit: 5}, []int{}, false},
		{"afterTime 0", HistoryQuery{AfterTime: new(int64), Limit: 1}, []int{0, 5}, true},
		{"range: the newest inside", HistoryQuery{AfterTime: at(10), BeforeTime: at(40), Limit: 2}, []int{1, 2, 3}, true},
		{"range, all fit", HistoryQuery{AfterTime: at(10), BeforeTime: at(40), Limit: 4}, []int{5, 1, 2, 3}, false},
		{"range, both bounds excluded", HistoryQuery{AfterTime: at(15), BeforeTime: at(30), Limit: 5}, []int{1, 2}, false},
		{"empty range", HistoryQuery{AfterTime: at(20), BeforeTime: at(21), Limit: 5}, []int{}, false},
		{"inverted range", HistoryQuery{AfterTime: at(40), BeforeTime: at(10), Limit: 5}, []int{}, false},
		{"beforeTime with a type", HistoryQuery{BeforeTime: at(40), Type: typ(-2), Limit: 2}, []int{5, 1, 3}, true},
		{"afterTime with texts", HistoryQuery{AfterTime: at(10), Type: typ(-1), Limit: 5}, []int{2, 4}, false},
		// Ids page in the same order: before m1 is m0 and m5 (sent after m1,
		// at an earlier time); after m5 come m1 and m2; the same millisecond
		// goes by id.
		{"before an id", HistoryQuery{Before: ids[1], Limit: 5}, []int{0, 5}, false},
		{"before an id, a page", HistoryQuery{Before: ids[3], Limit: 2}, []int{5, 1, 2}, true},
		{"after an id", HistoryQuery{After: ids[5], Limit: 2}, []int{1, 2, 3}, true},
		{"after an id of the same millisecond", HistoryQuery{After: ids[1], Limit: 5}, []int{2, 3, 4}, false},
		{"before an id of the same millisecond", HistoryQuery{Before: ids[2], Limit: 5}, []int{0, 5, 1}, false},
		{"after the id sent last", HistoryQuery{After: ids[5], Type: typ(-2), Limit: 5}, []int{1, 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.ConversationID = "c1"
			got, err := History(ctx, db.R(), q)
			if err != nil {
				t.Fatal(err)
			}
			gotIdx := []int{}
			for _, m := range got {
				i := slices.Index(ids, m.MID)
				if m.ConversationID != "c1" || i < 0 || m.Body != fmt.Sprintf("m%d", i) {
					t.Fatalf("unexpected message %+v", m)
				}
				gotIdx = append(gotIdx, i)
			}
			if !slices.Equal(gotIdx, tt.want) {
				t.Errorf("got messages %v, want %v", gotIdx, tt.want)
			}
			if extra := len(got) > q.Limit; extra != tt.extra {
				t.Errorf("%d rows for limit %d: extra row %v, want %v", len(got), q.Limit, extra, tt.extra)
			}
		})
	}
}

// Every page, by id, by time or by neither, with a type or not, as a
// system conversation's subscriber or not, is a search of a message index
// in (timestamp, id) order: no scan of the conversation, no sort.
func TestHistoryPlans(t *testing.T) {
	db := openTestDB(t, Options{})
	const ts = 1_790_000_000_000
	ids := timedConversation(t, db, "c1", ts, 10, 20, 30)
	at := func(off int64) *int64 { v := ts + off; return &v }
	typ := func(v int) *int { return &v }
	for _, cursors := range []HistoryQuery{
		{}, {Before: ids[1]}, {After: ids[1]}, {BeforeTime: at(20)}, {AfterTime: at(20)},
		{AfterTime: at(10), BeforeTime: at(30)},
	} {
		for _, filter := range []HistoryQuery{{}, {Type: typ(-1)}, {Type: typ(-2)}, {Viewer: "tom"}} {
			q := cursors
			q.ConversationID, q.Type, q.Viewer, q.Limit = "c1", filter.Type, filter.Viewer, 20
			query, args := historySQL(q)
			plan := explain(t, db, query, args...)
			index := "messages_by_time "
			if q.Type != nil && *q.Type != -1 {
				index = "messages_by_time_type "
			}
			if !strings.Contains(plan, "SEARCH m USING INDEX "+index) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN") {
				t.Errorf("%+v: plan\n%s\nwant a search of %swithout a sort", q, plan, index)
			}
		}
	}
}

func TestInsertMessage(t *testing.T) {
	db := openTestDB(t, Options{})
	const ts = 1_790_000_000_000
	ids := seedConversation(t, db, "c", 5, ts)
	for i := 2; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("message ids not increasing: %d then %d", ids[i-1], ids[i])
		}
	}
	// A clock that steps back still gives increasing ids.
	var back Message
	err := db.Write(ctx, func(tx *Tx) error {
		back = Message{ConversationID: "c", From: "jerry", Type: -1, Body: "back", Timestamp: ts - 60_000}
		return tx.InsertMessage(&back)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.MID <= ids[5] {
		t.Errorf("id %d after a clock step back is not after %d", back.MID, ids[5])
	}
	if back.Seq != 6 {
		t.Errorf("seq %d, want 6", back.Seq)
	}
	conv, err := GetConversation(ctx, db.R(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if conv.LastSeq != 6 || conv.LastMessageAt == nil || *conv.LastMessageAt != back.Timestamp {
		t.Errorf("conversation after 6 messages: last_seq %d lastMessageAt %v", conv.LastSeq, conv.LastMessageAt)
	}
	if ok, err := MessageVisible(ctx, db.R(), "c", back.MID, ""); !ok || err != nil {
		t.Errorf("MessageVisible: %v %v", ok, err)
	}
	if ok, err := MessageVisible(ctx, db.R(), "other", back.MID, ""); ok || err != nil {
		t.Errorf("MessageVisible in another conversation: %v %v", ok, err)
	}

	// An unknown conversation is an error, not a message without one.
	err = db.Write(ctx, func(tx *Tx) error {
		return tx.InsertMessage(&Message{ConversationID: "nope", From: "tom", Type: -1, Body: "x", Timestamp: ts})
	}, nil)
	if err == nil {
		t.Error("message stored in a conversation that does not exist")
	}

	// clientMessageId is unique per sender and conversation.
	cmid := "c-1"
	insert := func(from string) error {
		return db.Write(ctx, func(tx *Tx) error {
			return tx.InsertMessage(&Message{ConversationID: "c", From: from, Type: -1, Body: "x", ClientMessageID: &cmid, Timestamp: ts})
		}, nil)
	}
	if err := insert("tom"); err != nil {
		t.Fatal(err)
	}
	if err := insert("jerry"); err != nil {
		t.Errorf("the same clientMessageId from another sender: %v", err)
	}
	if err := insert("tom"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("a second message with the same clientMessageId: %v, want a UNIQUE violation", err)
	}
	err = db.Write(ctx, func(tx *Tx) error {
		m, err := tx.MessageByClientID("c", "tom", cmid)
		if err != nil {
			return err
		}
		if m.From != "tom" || m.ClientMessageID == nil || *m.ClientMessageID != cmid {
			return fmt.Errorf("found %+v", m)
		}
		if _, err := tx.MessageByClientID("c", "tom", "unknown"); err != ErrNotFound {
			return fmt.Errorf("unknown clientMessageId: %v, want ErrNotFound", err)
		}
		return nil
	}, nil)
	if err != nil {
		t.Error(err)
	}
}

// LastMessages gives each conversation's newest public message, from the
// id the send trigger keeps on the conversation (0008), which the migration
// fills in for databases that had messages before it.
func TestLastMessages(t *testing.T) {
	const ts = 1_790_000_000_000
	seed := func(db *DB) (want map[string]int64) {
		a := seedConversation(t, db, "a", 3, ts)
		seedConversation(t, db, "empty", 0, ts)
		var public int64
		err := db.Write(ctx, func(tx *Tx) error {
			if err := tx.InsertConversation(&Conversation{ID: "sys", Kind: "system", Attributes: "{}", CreatedAt: ts, UpdatedAt: ts}, []string{"tom"}); err != nil {
				return err
			}
			m := &Message{ConversationID: "sys", From: "backend", Type: -1, Body: "public", Timestamp: ts + 1}
			if err := tx.InsertMessage(m); err != nil {
				return err
			}
			public = m.MID
			// A subscriber's message to a system conversation is private: not the last message.
			return tx.InsertMessage(&Message{ConversationID: "sys", From: "tom", Type: -1, Body: "private", Private: true, Seq: 1, Timestamp: ts + 2})
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]int64{"a": a[3], "sys": public}
	}
	check := func(t *testing.T, db *DB, want map[string]int64) {
		t.Helper()
		got, err := LastMessages(ctx, db.R(), []string{"a", "empty", "sys", "missing"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("last messages of %d conversations, want %d", len(got), len(want))
		}
		for conv, mid := range want {
			if got[conv] == nil || got[conv].MID != mid {
				t.Errorf("%s: last message %+v, want id %d", conv, got[conv], mid)
			}
		}
	}
	t.Run("kept by sends", func(t *testing.T) {
		db := openTestDB(t, Options{})
		check(t, db, seed(db))
	})
	t.Run("filled in by the migration", func(t *testing.T) {
		var want map[string]int64
		migrated := remigrated(t, append(undoTo0007(t), "PRAGMA user_version = 7"), func(old *DB) { want = seed(old) })
		check(t, migrated, want)
	})
}
