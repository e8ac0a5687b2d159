package convquery

// Tests of the attribute index (migration 0006) and of the plans that use
// it: the rows follow every write of a conversation, the migration builds
// the same rows for conversations stored before it, every plan
// QueryConversations may choose answers as the reference evaluator of
// where_reference_test.go does, and the plans use the indexes.

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/store/internal/attrgen"
)

// attributeRows lists the conversation_attributes rows of a conversation as
// "key type value", value as an SQL literal.
func attributeRows(t *testing.T, db *store.DB, convID string) []string {
	t.Helper()
	rows := []string{}
	err := sqlx.SelectContext(context.Background(), db.R(), &rows, `SELECT key || ' ' || type || ' ' || quote(value) FROM conversation_attributes
		WHERE conversation_id = ? ORDER BY key, type, value`, convID)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// openTestDB opens a fresh database in a temporary directory and closes it
// when the test ends.
func openTestDB(t *testing.T, opt store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "test.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func writeOrFail(t *testing.T, db *store.DB, f func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Write(context.Background(), f, nil); err != nil {
		t.Fatal(err)
	}
}

// deep nests values n objects deep: {"l1":{"l2":...{"ln":1}}}.
func deep(n int) string {
	s := "1"
	for i := n; i >= 1; i-- {
		s = fmt.Sprintf(`{"l%d":%s}`, i, s)
	}
	return s
}

func TestAttributeRowsFollowWrites(t *testing.T) {
	db := openTestDB(t, store.Options{})
	attrs := `{"topic":"cheese","level":3,"score":2.5,"big":1e400,
		"tags":["x","y","x",1,1.0,true,null,["n"],{"o":1}],
		"vip":true,"off":false,"nul":null,"empty":[],"eobj":{},
		"obj":{"k":"v","deep":{"n":1.5},"0":"zero"},
		"a.b":1,"weird":{"x.y":2,"$":3,"":4,"ok":"z"},"caf\u00e9":"\u00e9t\u00e9",
		"d":` + deep(9) + `}`
	want := []string{
		"topic text 'cheese'", "level integer 3", "score real 2.5", "big real 9.0e+999",
		"tags array ''", "tags text 'x'", "tags text 'y'", "tags integer 1", "tags real 1.0", "tags true ''", "tags null ''",
		"vip true ''", "off false ''", "nul null ''", "empty array ''", "eobj object ''",
		"obj object ''", "obj.k text 'v'", "obj.deep object ''", "obj.deep.n real 1.5", "obj.0 text 'zero'",
		"weird object ''", "weird.ok text 'z'", "café text 'été'",
		// Eight levels are as deep as a query can name.
		"d object ''", "d.l1 object ''", "d.l1.l2 object ''", "d.l1.l2.l3 object ''", "d.l1.l2.l3.l4 object ''",
		"d.l1.l2.l3.l4.l5 object ''", "d.l1.l2.l3.l4.l5.l6 object ''", "d.l1.l2.l3.l4.l5.l6.l7 object ''",
	}
	writeOrFail(t, db, func(tx *store.Tx) error {
		for _, c := range []*store.Conversation{
			{ID: "a", Kind: "normal", Attributes: attrs, CreatedAt: 1, UpdatedAt: 1},
			{ID: "b", Kind: "normal", Attributes: `{"topic":"cheese"}`, CreatedAt: 1, UpdatedAt: 1},
			{ID: "t", Kind: "temporary", Attributes: `{"topic":"cheese"}`, CreatedAt: 1, UpdatedAt: 1, ExpiresAt: ptrInt(5)},
		} {
			if err := tx.InsertConversation(c, []string{"tom"}); err != nil {
				return err
			}
		}
		return nil
	})
	if got := attributeRows(t, db, "a"); !slices.Equal(got, sortedCopy(want)) {
		t.Errorf("rows after insert:\n got %q\nwant %q", got, sortedCopy(want))
	}

	// PATCH: topic replaced, obj removed, tags changed, a key added.
	writeOrFail(t, db, func(tx *store.Tx) error {
		return tx.UpdateInfo("a", "renamed", `{"topic":"mice","level":3,"tags":["z"],"added":{"k":1}}`, 2)
	})
	want = []string{"added object ''", "added.k integer 1", "level integer 3", "tags array ''", "tags text 'z'", "topic text 'mice'"}
	if got := attributeRows(t, db, "a"); !slices.Equal(got, want) {
		t.Errorf("rows after UpdateInfo:\n got %q\nwant %q", got, want)
	}
	for where, ids := range map[string]string{
		`{"topic":"cheese"}`: "b", `{"topic":"mice"}`: "a", `{"obj.k":"v"}`: "", `{"added.k":1}`: "a",
		`{"tags":"z"}`: "a", `{"tags":"x"}`: "", `{"obj":{"$exists":true}}`: "", `{"added":{"$exists":true}}`: "a",
	} {
		if got, _ := runWhere(t, db, where, "id"); strings.Join(got, " ") != ids {
			t.Errorf("after UpdateInfo, %s selects %v, want %q", where, got, ids)
		}
	}
	// Only the name changes: the rows stay; so do they for any other
	// statement on the conversation, such as a message's.
	writeOrFail(t, db, func(tx *store.Tx) error {
		if err := tx.UpdateInfo("a", "again", `{"topic":"mice","level":3,"tags":["z"],"added":{"k":1}}`, 3); err != nil {
			return err
		}
		_, err := tx.Exec("UPDATE conversations SET last_message_at = 9, member_count = 4 WHERE id = 'a'")
		return err
	})
	if got := attributeRows(t, db, "a"); !slices.Equal(got, want) {
		t.Errorf("rows after updating the name only:\n got %q\nwant %q", got, want)
	}
	// Any statement that writes the attributes, not only UpdateInfo.
	writeOrFail(t, db, func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE conversations SET attributes = '{}' WHERE id = 'a'`)
		return err
	})
	if got := attributeRows(t, db, "a"); len(got) != 0 {
		t.Errorf("rows after emptying the attributes: %q", got)
	}

	// Deleting a conversation deletes its rows: expiry, or any delete.
	if got := attributeRows(t, db, "t"); len(got) != 1 {
		t.Fatalf("temporary conversation rows: %q", got)
	}
	writeOrFail(t, db, func(tx *store.Tx) error {
		n, err := tx.DeleteExpired(10, 100)
		if err == nil && n != 1 {
			err = fmt.Errorf("DeleteExpired deleted %d", n)
		}
		return err
	})
	writeOrFail(t, db, func(tx *store.Tx) error {
		_, err := tx.Exec("DELETE FROM conversations WHERE id = 'b'")
		return err
	})
	var left int
	if err := sqlx.GetContext(context.Background(), db.R(), &left, "SELECT count(*) FROM conversation_attributes WHERE conversation_id IN ('b', 't')"); err != nil || left != 0 {
		t.Errorf("%d rows left of deleted conversations (%v)", left, err)
	}
}

func ptrInt(v int64) *int64 { return &v }

// TestAttributeLookupsMatchRowTests compares, on attributes the reference
// test does not generate (keys that need quoting or escaping, keys no query
// can name, deep nesting, numbers SQLite reads oddly), each lookup form with
// the row test it replaces.
func TestAttributeLookupsMatchRowTests(t *testing.T) {
	stored := []string{
		`{"a.b":1,"a":{"b":2}}`,
		`{"a.b":"x"}`,
		`{"a":{"b.c":3,"b":{"c":4}}}`,
		`{"caf\u00e9":1,"x\u2028y":"\u00e9","tab\tkey":true}`,
		`{"q\"uote":1,"back\\slash":2,"dol$lar":3,"":4}`,
		`{"d":` + deep(9) + `}`,
		`{"big":123456789012345678901234567890,"neg":-0.0,"inf":1e400,"small":1e-300}`,
		`{"arr":[[1,2],{"k":1},null,1,"1",true,false],"k":{"0":"zero"}}`,
		`{"s":"abc","t":"ABC","u":"k\u212a","v":"a%b_c","w":"Straße","x":"STRASSE"}`,
		`{"obj":{},"empty":[],"nul":null}`,
		`[1,2]`,
		`"scalar"`,
	}
	var rows []whereRow
	for i, attrs := range stored {
		rows = append(rows, whereRow{store.Conversation{ID: fmt.Sprintf("c%02d", i), Kind: "normal", Attributes: attrs, CreatedAt: 1, UpdatedAt: 1}, nil})
	}
	db := whereDB(t, rows)
	queries := []string{
		`{"a.b":1}`, `{"a.b":2}`, `{"a.b":"x"}`, `{"a.b.c":4}`, `{"a.b.c":3}`, `{"a.b":{"$exists":true}}`,
		`{"café":1}`, `{"x` + "\u2028" + `y":"é"}`, `{"tab\tkey":true}`, `{"caf\u00e9":{"$exists":true}}`,
		`{"d.l1.l2.l3.l4.l5.l6.l7":{"$exists":true}}`, `{"d.l1.l2.l3.l4.l5.l6":{"$exists":true}}`,
		`{"big":{"$gt":1e29}}`, `{"big":123456789012345678901234567890}`, `{"neg":0}`, `{"neg":{"$lt":0}}`,
		`{"inf":{"$gt":1e308}}`, `{"small":{"$gt":0}}`, `{"small":{"$lte":0}}`,
		`{"arr":1}`, `{"arr":"1"}`, `{"arr":true}`, `{"arr":false}`, `{"arr":{"$all":[1,"1",true]}}`,
		`{"arr":{"$all":[1,null]}}`, `{"arr":{"$all":[1.0,1]}}`, `{"arr":{"$in":[2,"k"]}}`, `{"arr.k":1}`, `{"k.0":"zero"}`,
		`{"arr":{"$gte":1}}`, `{"arr":{"$gt":"0"}}`,
		`{"s":{"$regex":"^ab"}}`, `{"s":{"$regex":"^AB","$options":"i"}}`, `{"t":{"$regex":"b","$options":"i"}}`,
		`{"u":{"$regex":"KK","$options":"i"}}`, `{"u":{"$regex":"^k"}}`, `{"v":{"$regex":"a%b_c"}}`, `{"v":{"$regex":"%"}}`,
		`{"w":{"$regex":"straße","$options":"i"}}`, `{"x":{"$regex":"^STR(A)SS"}}`, `{"s":{"$regex":"(?m)^abc$"}}`,
		`{"s":{"$regex":"^$"}}`, `{"s":{"$regex":"^a|^A"}}`, `{"s":{"$regex":"^\\x{10FFFF}"}}`,
		`{"obj":{"$exists":true}}`, `{"empty":{"$exists":true}}`, `{"nul":{"$exists":true}}`,
		`{"s":{"$in":["abc","ABC"]},"t":{"$in":["ABC",1]}}`, `{"$or":[{"s":"abc"},{"t":"ABC"}]}`,
	}
	for _, where := range queries {
		w, err := CompileWhere([]byte(where))
		if err != nil {
			t.Errorf("where %s: %v", where, err)
			continue
		}
		if w.scanSQL == "" {
			t.Errorf("where %s: no lookup", where)
			continue
		}
		ids := func(sql string, args []any) []string {
			out := []string{}
			if err := sqlx.SelectContext(context.Background(), db.R(), &out, "SELECT c.id FROM conversations c WHERE c.kind <> 'temporary' AND ("+sql+") ORDER BY c.id", args...); err != nil {
				t.Fatalf("where %s: %v\n%s", where, err, sql)
			}
			return out
		}
		if got, want := ids(w.SQL, w.Args), ids(w.scanSQL, w.scanArgs); !slices.Equal(got, want) {
			t.Errorf("where %s: the lookup selects %v, the row test %v", where, got, want)
		}
	}
}

// expectedPage is the page of the reference evaluator's matches in the
// order of sort ("-lastMessageAt", "lastMessageAt" or "id").
func expectedPage(convs []*refConv, pred refPred, sort string, limit, skip int) []string {
	var match []*refConv
	for _, c := range convs {
		if c.Kind != "temporary" && pred(c) {
			match = append(match, c)
		}
	}
	// SQLite sorts NULL first: last when descending.
	lm := func(c *refConv) int64 {
		if c.LastMessageAt == nil {
			return math.MinInt64
		}
		return *c.LastMessageAt
	}
	slices.SortFunc(match, func(a, b *refConv) int {
		switch sort {
		case "-lastMessageAt":
			if d := cmp.Compare(lm(b), lm(a)); d != 0 {
				return d
			}
		case "lastMessageAt":
			if d := cmp.Compare(lm(a), lm(b)); d != 0 {
				return d
			}
		}
		return strings.Compare(a.ID, b.ID)
	})
	ids := []string{}
	for i := skip; i < len(match) && i < skip+limit; i++ {
		ids = append(ids, match[i].ID)
	}
	return ids
}

// TestQueryPlansAgree runs random queries with every plan QueryConversations
// may choose (the intersections of their lookups, probing or visiting the
// candidates, a walk first that ends early or not) on pages in each order,
// against the reference evaluator, over conversations of which half had
// their attributes replaced by UpdateInfo. Every other query is compiled as
// a client sees conversations, so that the lookups of members intersected
// with the viewer's conversations are checked too.
func TestQueryPlansAgree(t *testing.T) {
	seed := whereSeed(t)
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewSource(seed))
	convs := randConvs(r, 300)
	db := refDB(t, convs)
	// Half the conversations get their attributes by PATCH, over others.
	writeOrFail(t, db, func(tx *store.Tx) error {
		for i, c := range convs {
			if i%2 == 0 && c.Kind != "temporary" {
				other := convs[r.Intn(len(convs))].AttrJSON
				if err := tx.UpdateInfo(c.ID, c.Name, other, 1); err != nil {
					return err
				}
				if err := tx.UpdateInfo(c.ID, c.Name, c.AttrJSON, 2); err != nil {
					return err
				}
				c.UpdatedAt = 2 // as UpdateInfo set it, for queries on updatedAt
			}
		}
		return nil
	})
	g := &queryGen{r: r, convs: convs}
	queries := 200
	if testing.Short() {
		queries = 50
	}
	ctx := context.Background()
	var planned, runs, disagreements, viewed int
	for planned < queries {
		raw := mustJSON(g.object(1))
		viewer := ""
		if planned%2 == 1 {
			viewer = attrgen.Pick(r, attrgen.Clients)
		}
		w, err := CompileWhereFor(raw, viewer)
		if err != nil || w.parts == nil {
			continue
		}
		planned++
		pred, err := refCompileFor(raw, viewer)
		if err != nil {
			t.Fatalf("where %s: the reference rejects it: %v", raw, err)
		}
		for _, p := range w.parts {
			if viewer != "" && p.set != nil && !p.attr {
				viewed++
				break
			}
		}
		var sets []int
		for i, p := range w.parts {
			if p.set != nil {
				sets = append(sets, i)
			}
		}
		var drivers [][]int
		if len(sets) <= 4 {
			for mask := 1; mask < 1<<len(sets); mask++ {
				var d []int
				for i, s := range sets {
					if mask&(1<<i) != 0 {
						d = append(d, s)
					}
				}
				drivers = append(drivers, d)
			}
		} else {
			for _, s := range sets {
				drivers = append(drivers, []int{s})
			}
			drivers = append(drivers, sets)
		}
		sort := attrgen.Pick(r, []string{"-lastMessageAt", "lastMessageAt", "id"})
		order, oargs, _ := CompileSort(sort)
		limit, skip := 1+r.Intn(12), r.Intn(3)*r.Intn(10)
		q := ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: limit, Skip: skip}
		want := expectedPage(convs, pred, sort, limit, skip)
		check := func(what string, p queryPlan) {
			runs++
			rows, err := runPlan(ctx, db.R(), q, p)
			if err != nil {
				t.Fatalf("where %s, %s: %v", raw, what, err)
			}
			got := []string{}
			for _, c := range rows {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, want) {
				disagreements++
				if disagreements <= 10 {
					t.Errorf("where %s (viewer %q) sort %s limit %d skip %d, %s:\n got %v\nwant %v\n%s", raw, viewer, sort, limit, skip, what, got, want, p.filter.sql)
				}
			}
		}
		for _, d := range drivers {
			for _, probe := range []bool{false, true} {
				if probe && !strings.HasPrefix(order, "c.last_message_at ") {
					continue
				}
				for _, walk := range []int{0, 1 + r.Intn(20), 1000} {
					check(fmt.Sprintf("driver %v probe %v walk %d", d, probe, walk), queryPlan{walk: walk, probe: probe, filter: driveFrom(w.parts, d)})
				}
			}
		}
		// And as QueryConversations chooses.
		rows, err := QueryConversations(ctx, db.R(), q)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, c := range rows {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("where %s (viewer %q) sort %s limit %d skip %d: QueryConversations answers %v, want %v", raw, viewer, sort, limit, skip, got, want)
		}
	}
	t.Logf("%d queries with lookups (%d with a viewer's lookup of members), %d plans run, %d disagreeing", planned, viewed, runs, disagreements)
}

// explain returns SQLite's query plan of a statement, one step a line.
func explain(t *testing.T, db *store.DB, sql string, args ...any) string {
	t.Helper()
	var plan []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	if err := sqlx.SelectContext(context.Background(), db.R(), &plan, "EXPLAIN QUERY PLAN "+sql, args...); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	var details []string
	for _, p := range plan {
		details = append(details, p.Detail)
	}
	return strings.Join(details, "\n")
}

// TestQueryPlansUseIndexes: each kind of lookup searches the primary key of
// conversation_attributes (key, type, value, conversation_id) rather than
// scanning it or the conversations, the probe walks
// conversations_by_last_message, and so does the default order.
func TestQueryPlansUseIndexes(t *testing.T) {
	db := whereFixture(t)
	lookups := map[string]string{
		`{"topic":"cheese"}`:                             "(key=? AND type=? AND value=?)",
		`{"topic":{"$in":["cheese",1,true]}}`:            "(key=? AND type=? AND value=?)",
		`{"level":{"$gt":1}}`:                            "(key=? AND type=? AND value>?)",
		`{"level":{"$lte":"z"}}`:                         "(key=? AND type=? AND value<?)",
		`{"tags":{"$all":["x","y"]}}`:                    "(key=? AND type=? AND value=?)",
		`{"topic":{"$regex":"^ch"}}`:                     "(key=? AND type=? AND value>? AND value<?)",
		`{"topic":{"$regex":"es","$options":"i"}}`:       "(key=? AND type=?)",
		`{"topic":{"$exists":true}}`:                     "(key=?)",
		`{"nested.k":"v","m":"Tom"}`:                     "(key=? AND type=? AND value=?)",
		`{"level":{"$gte":1,"$lt":5}}`:                   "(key=? AND type=? AND value>? AND value<?)",
		`{"topic":{"$regex":"^(ch|mi)","$options":"i"}}`: "(key=? AND type=? AND value>?)",
		`{"$or":[{"topic":"cheese"},{"tags":"x"}]}`:      "(key=? AND type=? AND value=?)",
	}
	for where, search := range lookups {
		w, err := CompileWhere([]byte(where))
		if err != nil {
			t.Fatal(err)
		}
		order, _, _ := CompileSort("")
		q := ConversationQuery{Where: w, Order: order, Limit: 10}
		for _, probe := range []bool{false, true} {
			p := queryPlan{probe: probe, filter: frag{sql: w.SQL, args: w.Args}}
			if w.parts != nil {
				var sets []int
				for i, part := range w.parts {
					if part.set != nil {
						sets = append(sets, i)
					}
				}
				p.filter = driveFrom(w.parts, sets)
			}
			sql, args := planSQL(q, p)
			plan := explain(t, db, sql, args...)
			if !strings.Contains(plan, "SEARCH conversation_attributes USING PRIMARY KEY "+search) ||
				strings.Contains(plan, "SCAN conversation_attributes") {
				t.Errorf("where %s (probe %v): the lookup does not search conversation_attributes by %s:\n%s", where, probe, search, plan)
			}
			if probe != strings.Contains(plan, "SCAN c USING INDEX conversations_by_last_message") {
				t.Errorf("where %s (probe %v): plan:\n%s", where, probe, plan)
			}
			if !probe && !strings.Contains(plan, "SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)") {
				t.Errorf("where %s: the lookup does not visit its candidates by id:\n%s", where, plan)
			}
		}
		// The count planQuery reads.
		for _, part := range w.parts {
			if part.bound != nil {
				plan := explain(t, db, "SELECT count(*) FROM ("+part.bound.sql+" LIMIT 10)", part.bound.args...)
				if strings.Contains(plan, "SCAN conversation_attributes") {
					t.Errorf("where %s: counting scans the table:\n%s", where, plan)
				}
			}
		}
	}
	// The default order walks its index: no sort of the table.
	order, _, _ := CompileSort("")
	sql, args := planSQL(ConversationQuery{Where: Where{SQL: "1"}, Order: order, Limit: 10}, queryPlan{filter: frag{sql: "1"}})
	if plan := explain(t, db, sql, args...); !strings.Contains(plan, "SCAN c USING INDEX conversations_by_last_message") ||
		strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the default order does not walk conversations_by_last_message:\n%s", plan)
	}
	// So does the walk, and it ends with the page: no sort after it.
	w, _ := CompileWhere([]byte(`{"topic":"cheese"}`))
	sql, args = walkSQL(ConversationQuery{Where: w, Order: order, Limit: 10}, 500)
	if plan := explain(t, db, sql, args...); !strings.Contains(plan, "SCAN c USING INDEX conversations_by_last_message") ||
		strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("the walk does not walk conversations_by_last_message:\n%s", plan)
	}
	// Deleting a conversation finds its rows by conversation_attributes_by_conversation.
	if plan := explain(t, db, "DELETE FROM conversation_attributes WHERE conversation_id = ?", "a"); !strings.Contains(plan, "conversation_attributes_by_conversation") {
		t.Errorf("deleting a conversation's rows does not use conversation_attributes_by_conversation:\n%s", plan)
	}
}

// TestChoosePlan: the choices that the costs imply on 100,000
// conversations.
func TestChoosePlan(t *testing.T) {
	const n = 100000
	capped := int64(10000)
	size := func(rows int64) lookupSize { return lookupSize{rows: rows, capped: capped} }
	cases := []struct {
		name  string
		sizes []lookupSize
		need  int
		want  choice
	}{
		{"unique value: its candidates", []lookupSize{size(1)}, 10, choice{driver: []int{0}}},
		{"rare value: its candidates", []lookupSize{size(40)}, 10, choice{driver: []int{0}}},
		{"2% value: probe", []lookupSize{size(2000)}, 10, choice{driver: []int{0}, probe: true}},
		{"2% value, page of 100: probe", []lookupSize{size(2000)}, 100, choice{driver: []int{0}, probe: true}},
		{"common value: walk, then probe", []lookupSize{size(capped)}, 10, choice{driver: []int{0}, probe: true, walk: 500}},
		{"member and common value: the member's", []lookupSize{size(capped), size(25)}, 10, choice{driver: []int{1}}},
		{"two 2% values: intersect", []lookupSize{size(2000), size(2000)}, 10, choice{driver: []int{0, 1}}},
		{"rare and 2%: the rare one", []lookupSize{size(2000), size(30)}, 10, choice{driver: []int{1}}},
		{"$all of two values", []lookupSize{{rows: 3000, capped: capped, values: 2}}, 10, choice{driver: []int{0}}},
	}
	for _, tc := range cases {
		got := choosePlan(tc.sizes, n, tc.need, true, true)
		if !slices.Equal(got.driver, tc.want.driver) || got.probe != tc.want.probe || got.walk != tc.want.walk {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// No index for the order: no probe, no walk.
	if got := choosePlan([]lookupSize{size(2000)}, n, 10, false, false); got.probe || got.walk != 0 {
		t.Errorf("without an ordered index: %+v", got)
	}
}

func TestRegexLiterals(t *testing.T) {
	cases := []struct {
		pattern, prefix string
		literals        []string
		folded          []string
	}{
		{"^abc", "abc", nil, nil},
		{"^abc.*def", "abc", []string{"def"}, nil},
		{"abc", "", []string{"abc"}, nil},
		{"(?i)^abc", "", nil, []string{"abc"}},
		{"(?i)kelvin", "", nil, nil}, // K is also the Kelvin sign
		{"(?i)straße", "", nil, nil},
		{"(?m)^abc", "", []string{"abc"}, nil},
		{"^(abc)d", "abc", []string{"d"}, nil},
		{"^a|^b", "", nil, nil},
		{"a+b", "", []string{"b"}, nil},
		{"^\\x{fffd}x", "", nil, nil},
		{"", "", nil, nil},
	}
	for _, tc := range cases {
		prefix, literals, folded := regexLiterals(tc.pattern)
		// Folded literals match up to case: either case will do.
		if prefix != tc.prefix || !slices.Equal(literals, tc.literals) ||
			!slices.EqualFunc(folded, tc.folded, strings.EqualFold) {
			t.Errorf("%q: got %q %q %q, want %q %q %q", tc.pattern, prefix, literals, folded, tc.prefix, tc.literals, tc.folded)
		}
	}
	for prefix, want := range map[string]string{"abc": "abd", "a\xff": "b", "é": "\xc3\xaa"} {
		if got, ok := prefixEnd(prefix); !ok || got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", prefix, got, want)
		}
	}
	if _, ok := prefixEnd("\xff\xff"); ok {
		t.Errorf("prefixEnd of 0xff bytes has an end")
	}
	if got := likeContaining(`a%b_c\`); got != `%a\%b\_c\\%` {
		t.Errorf("likeContaining: %q", got)
	}
}
