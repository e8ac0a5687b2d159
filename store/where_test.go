package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// whereFixture is a small set of conversations covering every field kind.
func whereFixture(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lm := func(v int64) *int64 { return &v }
	rows := []struct {
		c       Conversation
		members []string
	}{
		{Conversation{ID: "a", Kind: "normal", Name: "Cheese club", Creator: "Tom", Attributes: `{"topic":"cheese","level":3,"tags":["x","y"],"vip":true,"nested":{"k":"v"}}`, CreatedAt: 100, UpdatedAt: 100, LastMessageAt: lm(500)}, []string{"Tom", "Jerry"}},
		{Conversation{ID: "b", Kind: "normal", Name: "cats", Creator: "Jerry", Attributes: `{"topic":"Mice","level":7.5,"vip":false}`, CreatedAt: 200, UpdatedAt: 200, LastMessageAt: lm(300)}, []string{"Jerry", "Mary"}},
		{Conversation{ID: "c", Kind: "chatroom", Name: "Live", Creator: "", Attributes: `{"level":"high"}`, CreatedAt: 300, UpdatedAt: 300}, nil},
		{Conversation{ID: "d", Kind: "system", Name: "News", Creator: "", Attributes: `{"topic":null}`, CreatedAt: 400, UpdatedAt: 400, LastMessageAt: lm(900)}, []string{"Tom"}},
		{Conversation{ID: "e", Kind: "temporary", Name: "tmp", Creator: "Tom", Attributes: `{}`, CreatedAt: 500, UpdatedAt: 500}, []string{"Tom", "Jerry"}},
	}
	for _, r := range rows {
		r := r
		if err := db.Write(context.Background(), func(tx *Tx) error {
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

func runWhere(t *testing.T, db *DB, where, sort string) ([]string, error) {
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
		`{"topic":{"$regex":"^a","$options":"i"}}`, `{"tags":{"$all":["a","b"]}}`, `{"createdAt":{"__type":"Date","iso":"2026-01-01T00:00:00Z"}}`} {
		f.Add(s)
	}
	db, err := Open(filepath.Join(f.TempDir(), "fuzz.db"), Options{Synchronous: "normal"})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, where string) {
		w, err := CompileWhere([]byte(where))
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("non-query error %v", err)
			}
			return
		}
		// Whatever compiles must run.
		order, oargs, _ := CompileSort("")
		if _, err := QueryConversations(context.Background(), db.R(), ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 10}); err != nil {
			t.Fatalf("where %q compiled to failing SQL: %v\n%s", where, err, w.SQL)
		}
	})
}
