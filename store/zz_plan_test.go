package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

func TestZZPlans(t *testing.T) {
	path := os.Getenv("ZZ_DB")
	if path == "" {
		t.Skip()
	}
	db, err := Open(path, Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.write.Exec("DELETE FROM sqlite_stat1")
	db.write.Exec("ANALYZE sqlite_schema")
	db.read.SetMaxOpenConns(1)
	if p := os.Getenv("ZZ_PRAGMA"); p != "" {
		if _, err := db.read.Exec("PRAGMA " + p); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	timeIt := func(f func()) time.Duration {
		f()
		start := time.Now()
		for i := 0; i < 10; i++ {
			f()
		}
		return time.Since(start) / 10
	}
	only := os.Getenv("ZZ_ONLY")
	for _, bq := range benchQueries {
		if only != "" && !strings.Contains(bq.name, only) {
			continue
		}
		w, _ := CompileWhere([]byte(bq.where))
		order, oargs, _ := CompileSort(bq.sort)
		q := ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: bq.limit}
		var p queryPlan
		tPlan := timeIt(func() { p, _ = planQuery(ctx, db.R(), q) })
		var walkRows, lookRows int
		var tWalk time.Duration
		if w.scanSQL != "" && orderHasIndex(order) {
			walk := p.walk
			if walk == 0 {
				walk = 4000
			}
			tWalk = timeIt(func() {
				out := []Conversation{}
				args := append(append([]any{}, q.OrderArgs...), walk)
				args = append(append(append(args, q.Where.scanArgs...), q.OrderArgs...), q.Limit, q.Skip)
				if err := sqlx.SelectContext(ctx, db.R(), &out, "SELECT c.* FROM (SELECT * FROM conversations c WHERE c.kind <> 'temporary' ORDER BY "+q.Order+" LIMIT ?) AS c WHERE ("+q.Where.scanSQL+") ORDER BY "+q.Order+" LIMIT ? OFFSET ?", args...); err != nil {
					t.Fatal(err)
				}
				walkRows = len(out)
			})
		}
		from := "conversations c"
		if p.probe {
			from += " INDEXED BY conversations_by_last_message"
		}
		sql := "SELECT c.* FROM " + from + " WHERE c.kind <> 'temporary' AND (" + p.filter.sql + ") ORDER BY " + q.Order + " LIMIT ? OFFSET ?"
		args := append(append(append([]any{}, p.filter.args...), q.OrderArgs...), q.Limit, q.Skip)
		tLook := timeIt(func() {
			out := []Conversation{}
			if err := sqlx.SelectContext(ctx, db.R(), &out, sql, args...); err != nil {
				t.Fatal(err)
			}
			lookRows = len(out)
		})
		sql2 := "SELECT c.* FROM conversations c WHERE c.rowid IN (SELECT c.rowid FROM conversations c WHERE c.kind <> 'temporary' AND (" + p.filter.sql + ") ORDER BY " + q.Order + " LIMIT ? OFFSET ?) ORDER BY " + q.Order
		tLate := timeIt(func() {
			out := []Conversation{}
			if err := sqlx.SelectContext(ctx, db.R(), &out, sql2, args...); err != nil {
				t.Fatal(err)
			}
		})
		_ = tLate
		tAll := timeIt(func() {
			if _, err := QueryConversations(ctx, db.R(), q); err != nil {
				t.Fatal(err)
			}
		})
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		db.read.Select(&plan, "EXPLAIN QUERY PLAN "+sql, args...)
		var det []string
		for _, x := range plan {
			det = append(det, x.Detail)
		}
		fmt.Printf("== %-28s total %-12v plan %v probe=%v walk=%d (%v, %d rows) lookup %v (%d rows)\n   %s\n   %s\n", bq.name, tAll, tPlan, p.probe, p.walk, tWalk, walkRows, tLook, lookRows, p.filter.sql, strings.Join(det, " | "))
	}
}
