package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/store"
)

// slowQuery is a where no limit refuses that runs about a second on each
// conversation seedSlow stores (its $all row test reads a 3000-element
// array 1000 times), for over a minute in all.
var slowQuery = func() string {
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprint(5000 + i)
	}
	return `{"$or":[{"arr":{"$all":[` + strings.Join(vals, ",") + `]}},{"name":"none"}]}`
}()

// seedSlow stores 100 conversations with a 3000-number array each.
func seedSlow(t *testing.T, h *harness) {
	t.Helper()
	nums := make([]string, 3000)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	attrs := `{"arr":[` + strings.Join(nums, ",") + `]}`
	err := h.srv.DB().Write(context.Background(), func(tx *store.Tx) error {
		for i := range 100 {
			c := &store.Conversation{ID: fmt.Sprintf("big%03d", i), Kind: "normal", Attributes: attrs, CreatedAt: 1, UpdatedAt: 1}
			if err := tx.InsertConversation(c, []string{"Eve"}); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// The bounds of a query's cost, end to end: limits refused as
// INVALID_QUERY, a query past the query timeout interrupted and answered
// INVALID_QUERY, a client's second query at once answered RATE_LIMITED with
// a Retry-After.
func TestQueryCostBounds(t *testing.T) {
	t.Run("limits", func(t *testing.T) {
		h := start(t)
		eve := h.login("Eve")
		items := make([]string, 120)
		for i := range items {
			items[i] = fmt.Sprintf(`{"m":{"$regex":"^u%d"}}`, i)
		}
		for where, part := range map[string]string{
			`{"$or":[` + strings.Join(items, ",") + `]}`:     "more than 32 conditions",
			`{"$or":[` + strings.Join(items[:9], ",") + `]}`: "more than 8 $regex",
		} {
			r, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Where: ptr(where)}, eve.auth())
			if err != nil {
				t.Fatal(err)
			}
			if p := problemOf(t, where[:40], r.HTTPResponse, r.Body, http.StatusBadRequest, client.INVALIDQUERY); !strings.Contains(deref(p.Detail), part) {
				t.Errorf("detail %q does not say %q", deref(p.Detail), part)
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		h := start(t, func(c *server.Config) { c.QueryTimeout = 50 * time.Millisecond })
		seedSlow(t, h)
		eve := h.login("Eve")
		r, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{Where: ptr(slowQuery)}, eve.auth())
		if err != nil {
			t.Fatal(err)
		}
		if p := problemOf(t, "a slow query", r.HTTPResponse, r.Body, http.StatusBadRequest, client.INVALIDQUERY); deref(p.Detail) != "the query ran longer than 50ms; narrow it (fewer $regex and $or conditions, a condition on members)" {
			t.Errorf("detail %q", deref(p.Detail))
		}
		if errs := h.logs.errors(); len(errs) > 0 {
			t.Errorf("logged errors: %v", errs)
		}
	})
	t.Run("one at a time", func(t *testing.T) {
		h := start(t, func(c *server.Config) { c.QueryTimeout = 30 * time.Second })
		seedSlow(t, h)
		eve := h.login("Eve")
		// Two slow queries of Eve's at once: one runs, the other waits a
		// second for its turn and answers RATE_LIMITED.
		qctx, cancel := context.WithCancel(ctx(t))
		defer cancel()
		answers := make(chan *client.QueryConversationsResponse, 2)
		for range 2 {
			go func() {
				r, _ := h.c.QueryConversationsWithResponse(qctx, &client.QueryConversationsParams{Where: ptr(slowQuery)}, eve.auth())
				answers <- r
			}()
		}
		r := <-answers
		if r == nil {
			t.Fatal("no answer")
		}
		problemOf(t, "a second query at once", r.HTTPResponse, r.Body, http.StatusTooManyRequests, client.RATELIMITED)
		if got := r.HTTPResponse.Header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q, want 30 (the query timeout)", got)
		}
		// The other is still running; it ends when its client goes away.
		cancel()
		<-answers
		// And the turn is free again.
		if res := h.query(eve, client.QueryConversationsParams{Where: ptr(`{"m":"Eve"}`), Limit: ptr(int64(1))}); len(res) != 1 {
			t.Errorf("a query after: %d results", len(res))
		}
	})
}
