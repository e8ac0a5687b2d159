package handlers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

// slowWhere is a query no limit refuses that runs for about a second per
// conversation of slowDB: an $all of 1000 numbers none of which its
// 3000-element array holds, as a row test (an $or with a condition that has
// no lookup), so every conversation reads its array 1000 times.
var slowWhere = func() string {
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprint(5000 + i)
	}
	return `{"$or":[{"arr":{"$all":[` + strings.Join(vals, ",") + `]}},{"name":"none"}]}`
}()

// slowDB is a database of 100 conversations with a 3000-number array each
// (slowWhere runs over a minute on it) of which Eve and Mal are members,
// and "chat", Ann and Bob's conversation with a message.
func slowDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "parley.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	nums := make([]string, 3000)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	attrs := `{"arr":[` + strings.Join(nums, ",") + `]}`
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		for i := range 100 {
			c := &store.Conversation{ID: fmt.Sprintf("big%03d", i), Kind: KindNormal, Attributes: attrs, CreatedAt: 1, UpdatedAt: 1}
			if err := tx.InsertConversation(c, []string{"Eve", "Mal"}); err != nil {
				return err
			}
		}
		return tx.InsertConversation(&store.Conversation{ID: "chat", Kind: KindNormal, Attributes: `{}`, CreatedAt: 2, UpdatedAt: 2}, []string{"Ann", "Bob"})
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestQueryDeadline: a query that runs past the query timeout is
// interrupted and answers INVALID_QUERY, saying so, not a server error.
func TestQueryDeadline(t *testing.T) {
	db := slowDB(t)
	s := New(Config{QueryTimeout: 50 * time.Millisecond}, db, nil, nil)
	ctx := context.Background()
	for _, p := range []Principal{{ClientID: "Eve"}, {Master: true}} {
		_, err := s.QueryConversations(ctx, p, QueryRequest{Where: slowWhere})
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidQuery || !strings.Contains(e.Detail, "the query ran longer than 50ms; narrow it") {
			t.Fatalf("%+v: a slow query answers %v", p, err)
		}
	}
	// The read connections are free again: a quick query answers.
	if res, err := s.QueryConversations(ctx, Principal{ClientID: "Ann"}, QueryRequest{Where: `{"m":"Ann"}`}); err != nil || len(res) != 1 {
		t.Fatalf("a query after the interrupted ones: %v %v", res, err)
	}
}

// TestSlowQueriesLeaveReadsToOthers: slow queries in flight — many from
// one client, or from two clients — never take every read connection:
// another client's history read, and its query, complete while they still
// run. A client runs one query at a time: its others wait briefly, then
// answer RATE_LIMITED with a Retry-After. (Ordered by channels: the slow
// queries run for over a minute unless cancelled, and are cancelled only
// once the others have answered.)
func TestSlowQueriesLeaveReadsToOthers(t *testing.T) {
	db := slowDB(t)
	// A deadline far away: only the slots may keep the pool free.
	s := New(Config{QueryTimeout: time.Hour}, db, nil, nil)
	ann := Principal{ClientID: "Ann"}
	for _, attackers := range [][]string{{"Eve"}, {"Eve", "Mal"}} {
		t.Run(strings.Join(attackers, "+"), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type answer struct {
				who string
				err error
			}
			answers := make(chan answer, 8)
			for i := range 8 {
				who := attackers[i%len(attackers)]
				go func() {
					_, err := s.QueryConversations(ctx, Principal{ClientID: who}, QueryRequest{Where: slowWhere})
					answers <- answer{who, err}
				}()
			}
			// All but one query of each attacker answer RATE_LIMITED; one
			// each is running, and stays so until cancelled.
			guard := time.After(time.Minute)
			for range 8 - len(attackers) {
				select {
				case a := <-answers:
					var e *Error
					if !errors.As(a.err, &e) || e.Code != CodeRateLimited || e.RetryAfter <= 0 {
						t.Fatalf("%s's query over its slot answers %v, want RATE_LIMITED with a Retry-After", a.who, a.err)
					}
				case <-guard:
					t.Fatal("no slow query was refused: they all hold read connections")
				}
			}
			// Meanwhile Ann reads her history.
			if _, err := s.History(context.Background(), ann, "chat", HistoryRequest{}); err != nil {
				t.Fatalf("history read: %v", err)
			}
			// And, when one client only is sending slow queries, she queries.
			if len(attackers) == 1 {
				res, err := s.QueryConversations(context.Background(), ann, QueryRequest{Where: `{"m":"Ann"}`})
				if err != nil || len(res) != 1 {
					t.Fatalf("Ann's query: %v %v", res, err)
				}
			}
			select {
			case a := <-answers:
				t.Fatalf("%s's slow query answered (%v) before the others' reads: they waited for it", a.who, a.err)
			default:
			}
			cancel()
			for range attackers {
				if a := <-answers; !errors.Is(a.err, context.Canceled) {
					t.Errorf("%s's slow query, cancelled, answers %v", a.who, a.err)
				}
			}
		})
	}
}
