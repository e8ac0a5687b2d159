package store

// TestAttributeMigrationBackfills and what it needs. The other tests of the
// attribute index (migration 0006), through the queries that use it, are
// package convquery's; this one takes a database back to an older schema,
// which only this package can.

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/store/internal/attrgen"
)

func writeOrFail(t *testing.T, db *DB, f func(tx *Tx) error) {
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

// explain returns SQLite's query plan of a statement, one step a line.
func explain(t *testing.T, db *DB, sql string, args ...any) string {
	t.Helper()
	var plan []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	if err := db.read.Select(&plan, "EXPLAIN QUERY PLAN "+sql, args...); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
	var details []string
	for _, p := range plan {
		details = append(details, p.Detail)
	}
	return strings.Join(details, "\n")
}

// TestAttributeMigrationBackfills: conversations stored before migration
// 0006 get the rows that its triggers give new ones.
func TestAttributeMigrationBackfills(t *testing.T) {
	convs := attributeConvs(rand.New(rand.NewSource(3)), 120)
	convs = append(convs, &attributeConv{ID: "odd", Kind: "normal",
		AttrJSON: `{"a.b":1,"x":{"y.z":2,"w":[1,"s",{"q":1}]},"d":` + deep(10) + `,"n":null,"e":[]}`})
	insertAll := func(db *DB) {
		writeOrFail(t, db, func(tx *Tx) error {
			for _, c := range convs {
				row := &Conversation{ID: c.ID, Kind: c.Kind, Attributes: c.AttrJSON, CreatedAt: 1, UpdatedAt: 1}
				if err := tx.InsertConversation(row, c.Members); err != nil {
					return err
				}
			}
			return nil
		})
	}
	allRows := func(db *DB) []string {
		rows := []string{}
		err := db.read.Select(&rows, `SELECT conversation_id || ' ' || key || ' ' || type || ' ' || quote(value)
			FROM conversation_attributes ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}

	fresh := openTestDB(t, Options{})
	insertAll(fresh)
	want := allRows(fresh)
	if len(want) < 500 {
		t.Fatalf("only %d rows: the fixture is too small", len(want))
	}

	// A database at version 5: without what 0006 creates, nor 0007 and 0008.
	undo := []string{
		"DROP TRIGGER conversation_attributes_insert", "DROP TRIGGER conversation_attributes_update",
		"DROP TRIGGER conversation_attributes_reindex", "DROP VIEW conversation_attributes_reindex",
		"DROP TABLE conversation_attributes_new",
		"DROP TABLE conversation_attributes", "DROP INDEX conversations_by_last_message",
	}
	undo = append(append(append(undo, undoTo0007(t)...), undo0007...), "PRAGMA user_version = 5")
	migrated := remigrated(t, undo, insertAll)
	if got := allRows(migrated); !slices.Equal(got, want) {
		t.Errorf("the migration's rows (%d) differ from the triggers' (%d)", len(got), len(want))
		for _, r := range got {
			if !slices.Contains(want, r) {
				t.Errorf("extra: %s", r)
			}
		}
		for _, r := range want {
			if !slices.Contains(got, r) {
				t.Errorf("missing: %s", r)
			}
		}
	}
}

// attributeConv is a conversation of TestAttributeMigrationBackfills.
type attributeConv struct {
	ID, Kind, AttrJSON string
	Members            []string
}

// attributeConvs are n random conversations, with attributes drawn as
// convquery's TestWhereMatchesReference draws them.
func attributeConvs(r *rand.Rand, n int) []*attributeConv {
	convs := make([]*attributeConv, 0, n)
	for i := 0; i < n; i++ {
		c := &attributeConv{}
		c.Kind, c.ID = attrgen.Conversation(r, i)
		if c.Kind != "chatroom" {
			for _, m := range attrgen.Clients {
				if r.Intn(3) == 0 {
					c.Members = append(c.Members, m)
				}
			}
		}
		attrs := map[string]any{}
		for _, k := range attrgen.AttrKeys {
			if r.Intn(5) < 3 {
				attrs[k] = attrgen.Value(r, 0)
			}
		}
		c.AttrJSON = attrgen.Marshal(attrs)
		convs = append(convs, c)
	}
	return convs
}
