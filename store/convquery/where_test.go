package convquery

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

type whereRow struct {
	c       store.Conversation
	members []string
}

// whereFixture is a small set of conversations covering every field kind.
func whereFixture(t *testing.T) *store.DB {
	lm := func(v int64) *int64 { return &v }
	return whereDB(t, []whereRow{
		{store.Conversation{ID: "a", Kind: "normal", Name: "Cheese club", Creator: "Tom", Attributes: `{"topic":"cheese","level":3,"tags":["x","y"],"vip":true,"nested":{"k":"v"}}`, CreatedAt: 100, UpdatedAt: 100, LastMessageAt: lm(500)}, []string{"Tom", "Jerry"}},
		{store.Conversation{ID: "b", Kind: "normal", Name: "cats", Creator: "Jerry", Attributes: `{"topic":"Mice","level":7.5,"vip":false}`, CreatedAt: 200, UpdatedAt: 200, LastMessageAt: lm(300)}, []string{"Jerry", "Mary"}},
		{store.Conversation{ID: "c", Kind: "chatroom", Name: "Live", Creator: "", Attributes: `{"level":"high"}`, CreatedAt: 300, UpdatedAt: 300}, nil},
		{store.Conversation{ID: "d", Kind: "system", Name: "News", Creator: "", Attributes: `{"topic":null}`, CreatedAt: 400, UpdatedAt: 400, LastMessageAt: lm(900)}, []string{"Tom"}},
		{store.Conversation{ID: "e", Kind: "temporary", Name: "tmp", Creator: "Tom", Attributes: `{}`, CreatedAt: 500, UpdatedAt: 500}, []string{"Tom", "Jerry"}},
	})
}

func whereDB(t *testing.T, rows []whereRow) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "q.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, r := range rows {
		r := r
		if err := db.Write(context.Background(), func(tx *store.Tx) error {
			if err := tx.InsertConversation(&r.c, r.members); err != nil {
				return err
			}
			_, err := tx.Exec("UPDATE conversations SET last_message_at = ? WHERE id = ?", r.c.LastMessageAt, r.c.ID)
			return err
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func runWhere(t *testing.T, db *store.DB, where, sort string) ([]string, error) {
	t.Helper()
	w, err := CompileWhere([]byte(where))
	if err != nil {
		return nil, err
	}
	order, oargs, err := CompileSort(sort)
	if err != nil {
		return nil, err
	}
	rows, err := QueryConversations(context.Background(), db.R(), ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 100})
	if err != nil {
		t.Fatalf("where %s: SQL failed: %v\n%s", where, err, w.SQL)
	}
	ids := []string{}
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids, nil
}

func TestWhereSemantics(t *testing.T) {
	db := whereFixture(t)
	cases := []struct {
		where, sort string
		want        string
	}{
		{`{}`, "id", "a b c d"}, // temporary never listed
		{`{"name":"cats"}`, "", "b"},
		{`{"name":{"$regex":"^c","$options":"i"}}`, "id", "a b"},
		{`{"name":{"$regex":"^c"}}`, "id", "b"},
		{`{"c":"Tom"}`, "", "a"},
		{`{"creator":{"$ne":"Tom"}}`, "id", "b c d"},
		{`{"m":"Jerry"}`, "id", "a b"},
		{`{"members":{"$all":["Tom","Jerry"]}}`, "", "a"},
		{`{"members":["Jerry","Tom"]}`, "", "a"},
		{`{"members":{"$in":["Mary","Tom"]}}`, "id", "a b d"},
		{`{"members":{"$nin":["Tom"]}}`, "id", "b c"},
		{`{"members":{"$ne":"Tom"}}`, "id", "b c"},
		{`{"tr":true}`, "", "c"},
		{`{"sys":true}`, "", "d"},
		{`{"tr":false,"sys":false}`, "id", "a b"},
		{`{"lm":{"$gt":400}}`, "id", "a d"},
		{`{"lastMessageAt":{"$exists":false}}`, "", "c"},
		{`{"createdAt":{"$gte":{"__type":"Date","iso":"1970-01-01T00:00:00.200Z"},"$lt":400}}`, "id", "b c"},
		{`{"topic":"cheese"}`, "", "a"},
		{`{"attr.topic":"cheese"}`, "", "a"},
		{`{"attributes.topic":{"$regex":"mice","$options":"i"}}`, "", "b"},
		{`{"topic":{"$ne":"cheese"}}`, "id", "b c d"},    // $ne matches missing
		{`{"topic":{"$nin":["cheese"]}}`, "id", "b c d"}, // $nin matches missing
		{`{"topic":null}`, "id", "c d"},                  // null matches missing and null
		{`{"topic":{"$exists":true}}`, "id", "a b d"},
		{`{"level":{"$gt":3}}`, "", "b"},    // numbers only, not "high"
		{`{"level":{"$gte":"a"}}`, "", "c"}, // strings only
		{`{"tags":"x"}`, "", "a"},           // array contains scalar
		{`{"tags":{"$all":["y","x"]}}`, "", "a"},
		{`{"tags":["x","y"]}`, "", "a"},
		{`{"tags":{"$in":["y","z"]}}`, "", "a"},
		{`{"vip":true}`, "", "a"},
		{`{"vip":false}`, "", "b"},
		{`{"level":1}`, "", ""},
		{`{"nested.k":"v"}`, "", "a"},
		{`{"$or":[{"name":"cats"},{"topic":"cheese"}]}`, "id", "a b"},
		{`{"$and":[{"m":"Tom"},{"$or":[{"sys":true},{"level":3}]}]}`, "id", "a d"},
		{`{"id":{"$in":["a","c","zz"]}}`, "-id", "c a"},
		{`{}`, "-lastMessageAt", "d a b c"},
		{`{}`, "level,id", "d a b c"}, // missing < numbers < strings, as in MongoDB
	}
	for _, tc := range cases {
		got, err := runWhere(t, db, tc.where, tc.sort)
		if err != nil {
			t.Errorf("where %s: %v", tc.where, err)
			continue
		}
		if want := strings.Fields(tc.want); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("where %s sort %q: got %v, want %v", tc.where, tc.sort, got, want)
		}
	}
}

// TestWhereMongoCorners holds the cases where the compiler once disagreed
// with the reference evaluator of where_reference_test.go (MongoDB
// semantics, as the README says).
func TestWhereMongoCorners(t *testing.T) {
	db := whereDB(t, []whereRow{
		{store.Conversation{ID: "a", Kind: "normal", Name: "1984", Creator: "Tom", Attributes: `{"vip":true,"nums":[1,5,9],"obj":{"k":"v"},"tags":["x"]}`, CreatedAt: 1, UpdatedAt: 1}, []string{"Tom"}},
		{store.Conversation{ID: "b", Kind: "normal", Name: "cats", Creator: "Tom", Attributes: `{"vip":1,"arr":[["x","y"],1,null,"<b>&"],"marks":["<b>&",1.0],"s":"[1]"}`, CreatedAt: 2, UpdatedAt: 2}, nil},
		{store.Conversation{ID: "c", Kind: "chatroom", Name: "Live", Attributes: `{"nums":[2],"s":[1]}`, CreatedAt: 3, UpdatedAt: 3}, nil},
		{store.Conversation{ID: "d", Kind: "system", Name: "News", Attributes: `{"vip":false}`, CreatedAt: 4, UpdatedAt: 4}, nil},
	})
	cases := []struct{ where, want string }{
		// Numbers never equal booleans (json_extract reads true as 1).
		{`{"vip":1}`, "b"},
		{`{"vip":true}`, "a"},
		{`{"vip":{"$nin":[1]}}`, "a c d"},
		{`{"vip":{"$in":[1.0,false]}}`, "b d"},
		// $ne and $nin of a boolean match a missing attribute (no NULL
		// from three-valued logic under NOT).
		{`{"tags":{"$ne":true}}`, "a b c d"},
		{`{"arr":{"$nin":[false]}}`, "a b c d"},
		// Order comparisons look into arrays, each operator on its own.
		{`{"nums":{"$gt":8}}`, "a"},
		{`{"nums":{"$gt":8,"$lt":2}}`, "a"},
		{`{"nums":{"$lte":2}}`, "a c"},
		// null matches an array holding null.
		{`{"arr":null,"s":"[1]"}`, "b"},
		{`{"arr":{"$ne":null}}`, ""},
		{`{"arr":{"$in":[null]}}`, "a b c d"},
		// An array equals an array element by element, by value (1 = 1.0),
		// whatever the JSON text; or an array element equal to it.
		{`{"marks":["<b>&",1]}`, "b"},
		{`{"marks":["<b>&"]}`, ""},
		{`{"marks":[1,"<b>&"]}`, ""},
		{`{"arr":["x","y"]}`, "b"},
		{`{"tags":["x"]}`, "a"},
		{`{"tags":{"$ne":["x"]}}`, "b c d"},
		// A string never equals the JSON text of an array or object.
		{`{"s":"[1]"}`, "b"},
		{`{"obj":"{\"k\":\"v\"}"}`, ""},
		{`{"s":{"$gte":"["}}`, "b"},
		// Text columns hold strings: a number is no match, whatever the
		// affinity of SQLite would say.
		{`{"name":1984}`, ""},
		{`{"name":{"$gt":1000}}`, ""},
		{`{"name":{"$ne":1984}}`, "a b c d"},
		{`{"name":{"$in":[1984,"cats"]}}`, "b"},
		{`{"name":{"$all":["cats","cats"]}}`, "b"},
		{`{"createdAt":{"$all":[2,2.0]}}`, "b"},
		// Members are absent for chat rooms only: other conversations have
		// a member list, possibly empty.
		{`{"m":[]}`, "b d"},
		{`{"m":{"$exists":true}}`, "a b d"},
		{`{"m":{"$exists":false}}`, "c"},
		{`{"m":{"$ne":[]}}`, "a c"},
	}
	for _, tc := range cases {
		got, err := runWhere(t, db, tc.where, "id")
		if err != nil {
			t.Errorf("where %s: %v", tc.where, err)
			continue
		}
		if want := strings.Fields(tc.want); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("where %s: got %v, want %v", tc.where, got, want)
		}
	}
}

// TestWhereLargeQueriesRun: the largest lists a query may hold compile to SQL
// that SQLite accepts (no expression nested over 1000 deep, no more
// parameters than it takes) and that stays small (a long $all or array is
// one JSON argument, not a subquery per value), or are refused as invalid
// queries.
func TestWhereLargeQueriesRun(t *testing.T) {
	db := whereFixture(t)
	list := func(n int, format string) string {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = fmt.Sprintf(format, i)
		}
		return strings.Join(vals, ",")
	}
	nums, strs := list(maxListValues, "%d"), list(maxListValues, `"%x"`)
	var fourLists, manyLists []string
	for i := range 4 {
		fourLists = append(fourLists, fmt.Sprintf(`"k%d":{"$all":[%s]}`, i, nums))
	}
	for i := range MaxWhereLookups {
		manyLists = append(manyLists, fmt.Sprintf(`"k%d":{"$all":[%s]}`, i, list(100, "%d")))
	}
	for _, where := range []string{
		`{"topic":{"$in":[` + nums + `]}}`,
		`{"topic":{"$nin":[` + strs + `]}}`,
		`{"topic":{"$all":[` + nums + `]}}`,
		`{"topic":[` + nums + `]}`,
		`{"m":{"$in":[` + strs + `]}}`,
		`{"m":{"$all":[` + strs + `]}}`,
		`{"m":[` + strs + `]}`,
		`{"name":{"$all":[` + strs + `]}}`,
		`{"lm":{"$in":[` + nums + `]}}`,
		`{"lm":{"$all":[` + nums + `]}}`,
		`{` + strings.Join(fourLists, ",") + `}`,
		`{` + strings.Join(manyLists, ",") + `}`,
	} {
		if len(where) > MaxWhereBytes {
			t.Fatalf("test query of %d bytes is over the limit", len(where))
		}
		_, err := runWhere(t, db, where, "")
		var qe *QueryError
		if err != nil && (!errors.As(err, &qe) || !strings.Contains(qe.Detail, "parameters")) {
			t.Errorf("where %.60s…: %v", where, err)
		}
	}
}

func TestWhereRejectsMalformedQueries(t *testing.T) {
	deep := strings.Repeat(`{"$or":[`, 10) + `{"a":1}` + strings.Repeat(`]}`, 10)
	cases := map[string]string{
		`[1]`:                                    "must be a JSON object",
		`{"a":`:                                  "not valid JSON",
		`{"a":1} x`:                              "trailing",
		`{"$near":1}`:                            "unknown operator $near",
		`{"name":{"$foo":1}}`:                    "where.name.$foo",
		`{"name":{"x":1}}`:                       "objects are not comparable",
		`{"$or":[]}`:                             "non-empty array",
		`{"$or":[1]}`:                            "where.$or[0]",
		`{"name":{"$regex":"("}}`:                "where.name.$regex",
		`{"name":{"$regex":"a","$options":"g"}}`: "only i, m and s",
		`{"name":{"$options":"i"}}`:              "only goes with $regex",
		`{"name":{"$regex":"` + strings.Repeat("a", 300) + `"}}`: "longer than 256",
		`{"lm":"yesterday"}`:     "is a time",
		`{"tr":"yes"}`:           "true or false",
		`{"m":{"$gt":"a"}}`:      "members supports",
		`{"m":{"$in":[1]}}`:      "clientIds",
		`{"name":{"$in":"a"}}`:   "expected an array",
		`{"name":{"$exists":1}}`: "true or false",
		`{"a..b":1}`:             "attribute names",
		`{"level":{"$gt":true}}`: "number or a string",
		`{"name":{"$gt":true}}`:  "number or a string",
		deep:                     "nested deeper",
	}
	for where, want := range cases {
		_, err := CompileWhere([]byte(where))
		var qe *QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Detail, want) {
			t.Errorf("where %.60s: got %v, want an error mentioning %q", where, err, want)
		}
	}
	for _, sort := range []string{"members", "-", "a,,b", "tr"} {
		if _, _, err := CompileSort(sort); err == nil {
			t.Errorf("sort %q accepted", sort)
		}
	}
}

func TestWhereNeverSplicesValues(t *testing.T) {
	w, err := CompileWhere([]byte(`{"name":"x' OR 1=1 --","topic":{"$regex":"'; DROP TABLE messages"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.SQL, "DROP") || strings.Contains(w.SQL, "OR 1=1") {
		t.Fatalf("a value reached the SQL text: %s", w.SQL)
	}
}

func FuzzCompileWhere(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a"}`, `{"$or":[{"m":"Tom"},{"lm":{"$gt":1}}]}`,
		`{"topic":{"$regex":"^a","$options":"i"}}`, `{"tags":{"$all":["a","b"]}}`, `{"createdAt":{"__type":"Date","iso":"2026-01-01T00:00:00Z"}}`,
		`{"tags":["cats",1,null]}`, `{"level":{"$gt":2,"$lt":"x"}}`, `{"nested.arr":{"$all":["x",1.0,true,null]}}`,
		`{"vip":{"$nin":[1,null]}}`, `{"m":[]}`, `{"name":{"$in":[1,"cats"]}}`, `{"obj.k":{"$ne":"{}"}}`} {
		f.Add(s)
	}
	// Random conversations, so that the SQL runs on rows (JSON functions
	// only fail on data), checked against the reference evaluator of
	// where_reference_test.go.
	convs := randConvs(rand.New(rand.NewSource(1)), 60)
	db := refDB(f, convs)
	f.Fuzz(func(t *testing.T, where string) {
		o := whereBoth(t, db, convs, []byte(where))
		switch {
		case o.err != nil:
			// The compiler also enforces limits (depth, size) that the
			// reference does not model.
		case o.refErr != nil:
			t.Fatalf("where %q: the compiler accepts what the reference rejects (%v)\n%s", where, o.refErr, o.sql)
		case !o.agree():
			t.Fatalf("%s", describeDisagreement(convs, []byte(where), o))
		}
	})
}
