package convquery

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

// orOf is {"$or":[item(0), …, item(n-1)]}.
func orOf(n int, item func(i int) string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item(i)
	}
	return `{"$or":[` + strings.Join(items, ",") + `]}`
}

// objectOf is {part(0), …, part(n-1), more…}.
func objectOf(n int, part func(i int) string, more ...string) string {
	parts := make([]string, 0, n+len(more))
	for i := range n {
		parts = append(parts, part(i))
	}
	return "{" + strings.Join(append(parts, more...), ",") + "}"
}

// runEveryStatement runs each statement QueryConversations may make of w:
// the filter, the walk of its row tests, and, of its parts, the count of
// their lookups and the filter driven by any one of them or by all, by
// probe or not. It returns the first error.
func runEveryStatement(ctx context.Context, db *store.DB, w Where) error {
	order, oargs, err := CompileSort("")
	if err != nil {
		return err
	}
	q := ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 10}
	plans := []queryPlan{{filter: frag{sql: w.SQL, args: w.Args}}, {probe: true, filter: frag{sql: w.SQL, args: w.Args}}}
	var sets []int
	var counts []string
	var countArgs []any
	for i, p := range w.parts {
		if p.set == nil {
			continue
		}
		sets = append(sets, i)
		plans = append(plans, queryPlan{filter: driveFrom(w.parts, []int{i})}, queryPlan{probe: true, filter: driveFrom(w.parts, []int{i})})
		counts = append(counts, "(SELECT count(*) FROM ("+p.bound.sql+" LIMIT ?))")
		countArgs = append(append(countArgs, p.bound.args...), 1000)
	}
	if len(sets) > 1 {
		plans = append(plans, queryPlan{filter: driveFrom(w.parts, sets)}, queryPlan{probe: true, filter: driveFrom(w.parts, sets)})
	}
	if w.scanSQL != "" {
		plans = append(plans, queryPlan{walk: 100, filter: frag{sql: w.SQL, args: w.Args}})
	}
	if len(counts) > 0 {
		var dest []any
		for range counts {
			dest = append(dest, new(int64))
		}
		if err := db.R().QueryRowxContext(ctx, "SELECT "+strings.Join(counts, ", "), countArgs...).Scan(dest...); err != nil {
			return fmt.Errorf("count: %w", err)
		}
	}
	for _, p := range plans {
		if _, err := runPlan(ctx, db.R(), q, p); err != nil {
			return fmt.Errorf("plan %+v: %w", p, err)
		}
	}
	_, err = QueryConversations(ctx, db.R(), q)
	return err
}

// TestWhereLimits: the expensive queries of the security report are
// refused as invalid queries whose detail names the limit, and queries at
// each limit still run.
func TestWhereLimits(t *testing.T) {
	db := whereFixture(t)
	refused := map[string]string{
		// 120 member regexes (8.2 s on a large database).
		orOf(120, func(i int) string { return fmt.Sprintf(`{"m":{"$regex":"^u%d"}}`, i) }):             "more than 32 conditions",
		orOf(MaxLogicalItems, func(i int) string { return fmt.Sprintf(`{"m":{"$regex":"^u%d"}}`, i) }): "more than 8 $regex",
		// 84 attribute regexes were a 500 (SQLite: nested too deep).
		orOf(84, func(i int) string { return fmt.Sprintf(`{"k%d":{"$regex":"a%d"}}`, i, i) }):    "more than 32 conditions",
		objectOf(9, func(i int) string { return fmt.Sprintf(`"k%d":{"$regex":"a"}`, i) }):        "where.k8.$regex: more than 8 $regex",
		`{"$and":[` + strings.Repeat(`{"name":{"$regex":"a"}},`, 8) + `{"m":{"$regex":"b"}}]}`:   "more than 8 $regex",
		`{"$and":[` + strings.Repeat(`{"x":1},`, MaxLogicalItems) + `{"x":1}]}`:                  "where.$and: more than 32 conditions",
		objectOf(MaxWhereLookups+1, func(i int) string { return fmt.Sprintf(`"k%d":%d`, i, i) }): "more than 32 conditions on members or attributes",
		// Row tests of arrays are several subqueries each: 200 of them and
		// a regex lookup after them were a 500 (SQLite: nested too deep).
		`{"$or":[` + objectOf(200, func(i int) string { return fmt.Sprintf(`"a%03d":[1,2]`, i) }, `"zz":{"$regex":"x"}`) + `,{"b":1}]}`: "too complex",
	}
	for where, want := range refused {
		for _, viewer := range []string{"", "Tom"} {
			_, err := CompileWhereFor([]byte(where), viewer)
			var qe *QueryError
			if !errors.As(err, &qe) || !strings.Contains(qe.Detail, want) {
				t.Errorf("where %.80s… (viewer %q): got %v, want an invalid query mentioning %q", where, viewer, err, want)
			}
		}
	}
	// At the limits.
	accepted := []string{
		orOf(MaxWhereRegexes, func(i int) string { return fmt.Sprintf(`{"k%d":{"$regex":"a%d"}}`, i, i) }),
		orOf(MaxWhereRegexes, func(i int) string { return fmt.Sprintf(`{"m":{"$regex":"^u%d"}}`, i) }),
		orOf(MaxLogicalItems, func(i int) string { return fmt.Sprintf(`{"k%d":%d}`, i, i) }),
		orOf(MaxLogicalItems, func(i int) string { return fmt.Sprintf(`{"m":"u%d"}`, i) }),
		objectOf(MaxWhereLookups, func(i int) string {
			if i < MaxWhereRegexes {
				return fmt.Sprintf(`"r%d":{"$regex":"^a","$options":"i"}`, i)
			}
			return fmt.Sprintf(`"k%d":{"$in":[1,"a",true]}`, i)
		}),
		`{"$or":[` + objectOf(90, func(i int) string { return fmt.Sprintf(`"a%03d":[1,2]`, i) }, `"zz":{"$regex":"x"}`) + `,{"b":1}]}`,
		objectOf(200, func(i int) string { return fmt.Sprintf(`"a%03d":{"$exists":false}`, i) }),
	}
	for _, where := range accepted {
		for _, viewer := range []string{"", "Tom"} {
			w, err := CompileWhereFor([]byte(where), viewer)
			if err != nil {
				t.Errorf("where %.80s… (viewer %q): %v", where, viewer, err)
				continue
			}
			if err := runEveryStatement(context.Background(), db, w); err != nil {
				t.Errorf("where %.80s… (viewer %q): %v", where, viewer, err)
			}
		}
	}
}

// TestWhereLimitsKeepSQLiteWithinItsOwn: the shapes that open the most
// cursors for their subqueries, each as large as the limits let it be,
// before a regex lookup (a WITH, which SQLite refuses once 1000 cursors are
// open) and in an $or (so that the regex lookup comes last), run: no query
// is an SQLite error.
func TestWhereLimitsKeepSQLiteWithinItsOwn(t *testing.T) {
	db := whereFixture(t)
	shapes := []string{
		`"a%03d":[1,2]`,
		`"a%03d":{"$ne":[1,2,3]}`,
		`"a%03d":{"$nin":[1,"x",null,true]}`,
		`"a%03d":{"$all":[1,2,3]}`,
		`"a%03d":{"$gt":1,"$lt":"z"}`,
		`"a%03d":null`,
		`"a%03d":{"$ne":"x"}`,
		`"m":{"$ne":["u%03d","v"]}`,
		`"$or":[{"m":{"$all":["u%03d"]}},{"x":{"$ne":[1]}}]`,
	}
	ctx := context.Background()
	for _, shape := range shapes {
		for _, viewer := range []string{"", "Tom"} {
			// The largest n compiled, found by bisection, then run.
			query := func(n int) string {
				parts := make([]string, n+1)
				for i := range n {
					parts[i] = fmt.Sprintf(shape, i)
				}
				parts[n] = `"zz":{"$regex":"x"}`
				if strings.HasPrefix(shape, `"a`) {
					// Keys of one object: a condition each.
					return `{"$or":[{` + strings.Join(parts, ",") + `},{"b":1}]}`
				}
				// The same key again: items of $ands (of at most
				// MaxLogicalItems each).
				var groups []string
				for i := 0; i < len(parts); i += MaxLogicalItems {
					var items []string
					for _, p := range parts[i:min(i+MaxLogicalItems, len(parts))] {
						items = append(items, "{"+p+"}")
					}
					groups = append(groups, `{"$and":[`+strings.Join(items, ",")+`]}`)
				}
				return `{"$or":[{"$and":[` + strings.Join(groups, ",") + `]},{"b":1}]}`
			}
			compile := func(n int) (Where, bool) {
				w, err := CompileWhereFor([]byte(query(n)), viewer)
				var qe *QueryError
				if err != nil && !errors.As(err, &qe) {
					t.Fatalf("shape %s × %d: %v", shape, n, err)
				}
				return w, err == nil
			}
			lo, hi := 0, maxWhereNodes // lo compiles, hi does not
			for lo+1 < hi {
				if mid := (lo + hi) / 2; func() bool { _, ok := compile(mid); return ok }() {
					lo = mid
				} else {
					hi = mid
				}
			}
			if lo < 10 {
				t.Errorf("shape %s (viewer %q): only %d accepted", shape, viewer, lo)
				continue
			}
			w, _ := compile(lo)
			t.Logf("shape %s viewer %q: %d", shape, viewer, lo)
			if err := runEveryStatement(ctx, db, w); err != nil {
				t.Errorf("shape %s × %d (viewer %q): %v", shape, lo, viewer, err)
			}
		}
	}
}

// FuzzWhereNeverFails compiles any where, as the master key and as
// clients see conversations, and runs every statement QueryConversations
// may make of it on a small database: each is either refused as an
// invalid query (*QueryError) or runs, in a few seconds at most. Nothing
// else — no SQLite error, no panic — may come of it: it would be a 500.
// Seeded with the expensive queries of the security report.
func FuzzWhereNeverFails(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"m":"Tom"}`, `{"m":{"$all":["Ann","Ben"]}}`, `{"m":{"$regex":"^T"},"topic":"cheese"}`,
		orOf(120, func(i int) string { return fmt.Sprintf(`{"m":{"$regex":"^u%d"}}`, i) }),
		orOf(84, func(i int) string { return fmt.Sprintf(`{"k%d":{"$regex":"a%d"}}`, i, i) }),
		orOf(83, func(i int) string { return fmt.Sprintf(`{"k%d":{"$regex":"a%d"}}`, i, i) }),
		orOf(8, func(i int) string { return fmt.Sprintf(`{"k%d":{"$regex":"a%d"}}`, i, i) }),
		orOf(32, func(i int) string { return fmt.Sprintf(`{"m":{"$in":["u%d","Tom"]},"k%d":{"$gte":%d}}`, i, i, i) }),
		`{"$or":[` + objectOf(45, func(i int) string { return fmt.Sprintf(`"a%03d":[1,2]`, i) }, `"zz":{"$regex":"x"}`) + `,{"b":1}]}`,
		objectOf(32, func(i int) string { return fmt.Sprintf(`"k%d":{"$all":[1,2,3,"x"]}`, i) }),
		strings.Repeat(`{"$or":[{"m":"Tom"},`, 7) + `{"level":{"$gt":1,"$lt":9}}` + strings.Repeat(`]}`, 7),
		`{"m":{"$nin":["Tom"]},"tags":{"$ne":["a",1,null]},"name":{"$regex":"(?i)^c"}}`,
	} {
		f.Add(s)
	}
	convs := randConvs(rand.New(rand.NewSource(2)), 40)
	db := refDB(f, convs)
	// And attributes SQLite cannot read (see TestWhereReadsUnreadableAttributesAsNone).
	if err := db.Write(context.Background(), func(tx *store.Tx) error {
		return tx.InsertConversation(&store.Conversation{ID: "deep", Kind: "normal", Attributes: deepAttributes, CreatedAt: 1, UpdatedAt: 1}, []string{"Tom"})
	}, nil); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, where string) {
		for _, viewer := range []string{"", "Tom", "Nobody"} {
			w, err := CompileWhereFor([]byte(where), viewer)
			if err != nil {
				var qe *QueryError
				if !errors.As(err, &qe) {
					t.Fatalf("where %q (viewer %q): not a QueryError: %v", where, viewer, err)
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = runEveryStatement(ctx, db, w)
			cancel()
			if err != nil {
				t.Fatalf("where %q (viewer %q): %v\n%.2000s", where, viewer, err, w.SQL)
			}
		}
	})
}

// deepAttributes nest deeper than SQLite's JSON parser goes (1000 levels),
// beside attributes it could read: a handler stores them (Go's JSON takes
// 10000 levels, and 16 KiB of attributes hold 8000).
var deepAttributes = `{"topic":"cheese","deep":` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`

// TestWhereReadsUnreadableAttributesAsNone: attributes SQLite cannot read
// were an error ("malformed JSON", a 500) of every query whose row tests
// or sort read them, whoever stored them; they read as no attributes, as
// the attribute index reads them, so that lookups and row tests agree.
func TestWhereReadsUnreadableAttributesAsNone(t *testing.T) {
	db := whereDB(t, []whereRow{
		{store.Conversation{ID: "deep", Kind: "normal", Attributes: deepAttributes, CreatedAt: 1, UpdatedAt: 1}, []string{"Tom"}},
		{store.Conversation{ID: "fine", Kind: "normal", Attributes: `{"topic":"cheese","n":1}`, CreatedAt: 2, UpdatedAt: 2}, []string{"Tom"}},
	})
	cases := []struct{ where, sort, want string }{
		{`{"topic":"cheese"}`, "", "fine"},
		{`{"$or":[{"topic":"cheese"},{"name":"none"}]}`, "", "fine"},
		{`{"topic":{"$ne":"cheese"}}`, "", "deep"},
		{`{"deep":{"$exists":false}}`, "", "deep fine"},
		{`{"deep":{"$exists":true}}`, "", ""},
		{`{"n":{"$nin":[1]},"m":"Tom"}`, "", "deep"},
		{`{"$or":[{"n":{"$gte":0}},{"name":"none"}]}`, "", "fine"},
		{`{}`, "topic", "deep fine"},
		{`{"m":"Tom"}`, "-n", "fine deep"},
	}
	for _, tc := range cases {
		w, err := CompileWhere([]byte(tc.where))
		if err != nil {
			t.Fatal(err)
		}
		if err := runEveryStatement(context.Background(), db, w); err != nil {
			t.Errorf("where %s: %v", tc.where, err)
			continue
		}
		got, err := runWhere(t, db, tc.where, tc.sort)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(tc.want); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("where %s sort %q: got %v, want %v", tc.where, tc.sort, got, want)
		}
	}
}

// TestRegexLimitAgreesWithStore: parley_regexp, in package store, compiles
// every pattern a where may hold, with its flags prefix.
func TestRegexLimitAgreesWithStore(t *testing.T) {
	if store.MaxRegexpPattern != MaxRegexLen+8 {
		t.Errorf("store.MaxRegexpPattern is %d, want MaxRegexLen (%d) + 8", store.MaxRegexpPattern, MaxRegexLen)
	}
}
