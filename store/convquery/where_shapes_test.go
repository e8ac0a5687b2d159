package convquery

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/store/internal/attrgen"
)

// shapeConvs are conversations for TestLookupShapes: a level of numbers,
// strings and arrays straddling 40–45, labels to compare as strings, titles
// with more distinct strings than regexDistinct, topics with few, tags.
func shapeConvs() []*refConv {
	levels := []any{38, 39, 40, 40.0, 41, 44, 44.5, 45, 46, "41", "z", true, nil,
		[]any{30, 50}, []any{30, 35}, []any{50, 60}, []any{42}, []any{30, "50"}, []any{[]any{41}}, []any{},
		map[string]any{"x": 41}, []any{45, 39}, []any{40, 45}, []any{"41", 46, 38}}
	labels := []any{"apple", "banana", "b", "B", "cherry", []any{"aa", "zz"}, []any{"b"}, 5, []any{"c", "a"}}
	topics := []any{"hiking", "Cooking", "gaming", "music", "GAMING", "reading", "hikingx"}
	words := []string{"hiking", "cooking", "gaming", "reading"}
	tags := []any{[]any{"go", "rust"}, []any{"jazz"}, []any{"go"}, []any{}, "jazz"}
	var convs []*refConv
	for i := range 400 {
		attrs := map[string]any{"title": fmt.Sprintf("t%03d %s", i%300, words[i%len(words)])}
		switch i % 13 {
		case 3:
			attrs["title"] = []any{fmt.Sprintf("T%03d Hiking", i), "x"}
		case 7:
			attrs["title"] = i
		}
		if i%11 != 5 {
			attrs["level"] = levels[i%len(levels)]
		}
		attrs["label"] = labels[i%len(labels)]
		attrs["topic"] = topics[i%len(topics)]
		attrs["tags"] = tags[i%len(tags)]
		c := &refConv{ID: fmt.Sprintf("c%03d", i), Kind: "normal", CreatedAt: 1, UpdatedAt: 1, AttrJSON: attrgen.Marshal(attrs)}
		if i%17 == 0 {
			c.Kind, c.ID = "temporary", "_tmp:"+c.ID
		}
		if i%5 == 0 {
			c.Members = []string{"Tom", "Jerry"}
		}
		if i%9 != 0 {
			lm := int64(1000 + (i*7919)%400)
			c.LastMessageAt = &lm
		}
		if err := json.NewDecoder(strings.NewReader(c.AttrJSON)).Decode(&c.attrs); err != nil {
			panic(err)
		}
		convs = append(convs, c)
	}
	return convs
}

// TestLookupShapes: the lookups of a range with two bounds, of a regex over
// the distinct strings of a key (fewer and more than regexDistinct) and of
// an $or of lookups have the shape meant and select, by every plan, what
// the reference evaluator does.
func TestLookupShapes(t *testing.T) {
	convs := shapeConvs()
	db := refDB(t, convs)
	// shape checks what CompileWhere made of a query: its parts (the top
	// level conjuncts) and their sets.
	oneSet := func(contains ...string) func(w Where) error {
		return func(w Where) error {
			if len(w.parts) != 1 || w.parts[0].set == nil {
				return fmt.Errorf("%d parts, want one with a set", len(w.parts))
			}
			for _, s := range contains {
				if !strings.Contains(w.parts[0].set.sql, s) {
					return fmt.Errorf("the set does not hold %q:\n%s", s, w.parts[0].set.sql)
				}
			}
			return nil
		}
	}
	sets := func(n int) func(w Where) error {
		return func(w Where) error {
			got := 0
			for _, p := range w.parts {
				if p.set != nil {
					got++
				}
			}
			if got != n {
				return fmt.Errorf("%d parts with a set, want %d", got, n)
			}
			return nil
		}
	}
	cases := []struct {
		where string
		shape func(w Where) error
	}{
		// Both bounds of a key: one range of the index.
		{`{"level":{"$gte":40,"$lt":45}}`, oneSet("value >= ? AND value < ?")},
		{`{"level":{"$gt":40,"$lte":45}}`, oneSet("value > ? AND value <= ?")},
		{`{"level":{"$lt":45,"$gt":39.5}}`, oneSet("value > ? AND value < ?")},
		{`{"$and":[{"level":{"$gte":40}},{"level":{"$lt":45}}]}`, oneSet("value >= ? AND value < ?")},
		{`{"level":{"$lt":45},"$and":[{"level":{"$gte":40}}]}`, oneSet("value >= ? AND value < ?")},
		{`{"level":{"$gte":45,"$lt":40}}`, oneSet("value >= ? AND value < ?")}, // only arrays
		{`{"level":{"$gte":41,"$lte":41}}`, oneSet("value >= ? AND value <= ?")},
		{`{"label":{"$gte":"b","$lt":"c"}}`, oneSet("type = 'text' AND value >= ? AND value < ?")},
		{`{"label":{"$gt":"a","$lt":"b"}}`, oneSet("value > ? AND value < ?")},
		{`{"level":{"$gte":40,"$lt":"z"}}`, sets(2)}, // a number and a string: two lookups
		{`{"level":{"$gt":38,"$gte":40,"$lt":45}}`, sets(2)},
		{`{"level":{"$gte":40,"$lt":45},"tags":"go"}`, sets(2)},
		// A regex over the distinct strings.
		{`{"topic":{"$regex":"^(hik|cook|gam)ing$","$options":"i"}}`, oneSet("WITH RECURSIVE")},
		{`{"topic":{"$regex":"ing"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"ing$"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"^t"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"^t2"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"^t29[0-9] gaming$"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"HIK","$options":"i"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"^T","$options":"i"}}`, oneSet("WITH RECURSIVE")},
		{`{"title":{"$regex":"nothing"}}`, oneSet("WITH RECURSIVE")},
		// An $or of lookups: their union.
		{`{"$or":[{"topic":"Cooking"},{"tags":"jazz"}]}`, oneSet("UNION ALL")},
		{`{"$or":[{"level":{"$gte":40,"$lt":45}},{"title":{"$regex":"^t1"}}]}`, oneSet("UNION ALL")},
		{`{"$or":[{"topic":"x"},{"$or":[{"tags":"go"},{"tags":{"$all":["go","rust"]}}]}]}`, oneSet("UNION ALL")},
		{`{"$or":[{"m":"Tom"},{"topic":"music"}]}`, oneSet("UNION ALL")},
		{`{"$or":[{"topic":"Cooking"},{"label":"apple"}],"level":{"$gt":40}}`, sets(2)},
		{`{"$or":[{"topic":"Cooking"},{"level":{"$ne":41}}]}`, sets(0)}, // $ne has no lookup
	}
	ctx := context.Background()
	order, oargs, _ := CompileSort("-lastMessageAt")
	for _, tc := range cases {
		w, err := CompileWhere([]byte(tc.where))
		if err != nil {
			t.Fatalf("where %s: %v", tc.where, err)
		}
		if err := tc.shape(w); err != nil {
			t.Errorf("where %s: %v", tc.where, err)
		}
		pred, err := refCompile([]byte(tc.where))
		if err != nil {
			t.Fatalf("where %s: the reference rejects it: %v", tc.where, err)
		}
		var setParts []int
		for i, p := range w.parts {
			if p.set != nil {
				setParts = append(setParts, i)
			}
		}
		matches := len(expectedPage(convs, pred, "-lastMessageAt", len(convs), 0))
		if matches == 0 && !strings.Contains(tc.where, "nothing") {
			t.Errorf("where %s: matches nothing: a weak test", tc.where)
		}
		for _, limit := range []int{3, 40, 1000} {
			q := ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: limit}
			want := expectedPage(convs, pred, "-lastMessageAt", limit, 0)
			check := func(what string, rows []store.Conversation, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("where %s, %s: %v", tc.where, what, err)
				}
				got := []string{}
				for _, c := range rows {
					got = append(got, c.ID)
				}
				if !slices.Equal(got, want) {
					t.Errorf("where %s limit %d, %s:\n got %v\nwant %v", tc.where, limit, what, got, want)
				}
			}
			rows, err := QueryConversations(ctx, db.R(), q)
			check("as planned", rows, err)
			// Every intersection of the lookups, probed or not, after a
			// walk or not.
			for mask := 1; mask < 1<<len(setParts); mask++ {
				var driver []int
				for i, s := range setParts {
					if mask&(1<<i) != 0 {
						driver = append(driver, s)
					}
				}
				for _, probe := range []bool{false, true} {
					for _, walk := range []int{0, 50} {
						p := queryPlan{walk: walk, probe: probe, filter: driveFrom(w.parts, driver)}
						rows, err := runPlan(ctx, db.R(), q, p)
						check(fmt.Sprintf("driver %v probe %v walk %d", driver, probe, walk), rows, err)
					}
				}
			}
		}
		// Each set's bound holds at least its rows, as planQuery counts it.
		for _, i := range setParts {
			var set, bound int
			p := w.parts[i]
			if err := sqlx.GetContext(context.Background(), db.R(), &set, "SELECT count(*) FROM ("+p.set.sql+")", p.set.args...); err != nil {
				t.Fatalf("where %s: %v", tc.where, err)
			}
			if err := sqlx.GetContext(context.Background(), db.R(), &bound, "SELECT count(*) FROM ("+p.bound.sql+")", p.bound.args...); err != nil {
				t.Fatalf("where %s: %v", tc.where, err)
			}
			if bound < set {
				t.Errorf("where %s: a bound of %d rows for a set of %d", tc.where, bound, set)
			}
		}
	}
}

// TestQueryReadsWholeRows: the conversations a query answers, scanned
// column by column, are those GetConversation reads.
func TestQueryReadsWholeRows(t *testing.T) {
	db := whereFixture(t)
	ctx := context.Background()
	writeOrFail(t, db, func(tx *store.Tx) error {
		_, err := tx.Exec("UPDATE conversations SET last_seq = 7, ttl = 60, expires_at = 99, is_unique = 1 WHERE id = 'b'")
		return err
	})
	order, oargs, _ := CompileSort("")
	for _, where := range []string{`{}`, `{"topic":"Mice"}`, `{"m":"Tom"}`} {
		w, err := CompileWhere([]byte(where))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := QueryConversations(ctx, db.R(), ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 10})
		if err != nil || len(rows) == 0 {
			t.Fatalf("where %s: %d rows, %v", where, len(rows), err)
		}
		for _, got := range rows {
			want, err := store.GetConversation(ctx, db.R(), got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, *want) {
				t.Errorf("where %s: the query reads %+v, GetConversation %+v", where, got, *want)
			}
		}
	}
}

// TestPlanCache: planQuery keeps its choice per database, filter and page
// size, and a kept choice is used only where it fits the query's parts.
func TestPlanCache(t *testing.T) {
	convs := shapeConvs()
	db1, db2 := refDB(t, convs), refDB(t, convs)
	ctx := context.Background()
	order, _, _ := CompileSort("")
	query := func(where string, limit int) ConversationQuery {
		w, err := CompileWhere([]byte(where))
		if err != nil {
			t.Fatal(err)
		}
		return ConversationQuery{Where: w, Order: order, Limit: limit}
	}
	q := query(`{"level":{"$gte":40,"$lt":45},"tags":"go"}`, 10)
	plans, k := plansOf(db1.R(), q)
	if same, _ := plansOf(db1.R(), q); plans == nil || same != plans {
		t.Fatal("the read pool's plans are not kept")
	}
	plans2, _ := plansOf(db2.R(), q)
	if plans2 == nil || plans2 == plans {
		t.Errorf("another database's plans are not its own")
	}
	err := db1.Write(ctx, func(tx *store.Tx) error {
		if p, _ := plansOf(tx, q); p != nil {
			t.Errorf("plans are kept for a transaction")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []ConversationQuery{
		query(`{"level":{"$gte":40,"$lt":45},"tags":"go"}`, 11),
		query(`{"level":{"$gte":40,"$lt":46},"tags":"go"}`, 10),
		query(`{"level":{"$gte":40,"$lt":"45"},"tags":"go"}`, 10),
	} {
		if keyOf(other) == k {
			t.Errorf("the same key for another filter or page")
		}
	}
	if keyOf(query(`{"tags":"go","level":{"$lt":45,"$gte":40}}`, 10)) != k {
		t.Errorf("another key for the same query")
	}
	plans.clear()
	first, err := planQuery(ctx, db1.R(), q)
	if err != nil {
		t.Fatal(err)
	}
	kept, ok := plans.get(k, q.Where.parts)
	if !ok {
		t.Fatal("the choice was not kept")
	}
	if _, ok := plans2.get(k, q.Where.parts); ok {
		t.Errorf("a choice made on one database is kept for another")
	}
	if again, err := planQuery(ctx, db1.R(), q); err != nil || again.filter.sql != first.filter.sql || again.probe != first.probe || again.walk != first.walk {
		t.Errorf("planned again: %+v, first %+v (%v)", again, first, err)
	}
	if _, ok := plans.get(k, q.Where.parts[:kept.driver[0]]); ok {
		t.Errorf("a kept choice is used for parts it does not fit")
	}
}
