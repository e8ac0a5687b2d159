package handlers

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

// TestQueryAsTheCallerSeesMembers: a client's conditions on members see
// only the member lists it sees (convquery.CompileWhereFor): Eva, in neither of
// Ann and Ben's conversations, cannot learn that they share one; the master
// key can.
func TestQueryAsTheCallerSeesMembers(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "parley.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.InsertConversation(&store.Conversation{ID: "ab", Kind: KindNormal, Attributes: `{}`, CreatedAt: 1, UpdatedAt: 1}, []string{"Ann", "Ben"}); err != nil {
			return err
		}
		return tx.InsertConversation(&store.Conversation{ID: "ae", Kind: KindNormal, Attributes: `{}`, CreatedAt: 2, UpdatedAt: 2}, []string{"Ann", "Eva"})
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{}, db, nil, nil)
	ids := func(p Principal, where string) string {
		res, err := s.QueryConversations(context.Background(), p, QueryRequest{Where: where, Limit: 100})
		if err != nil {
			t.Fatalf("%+v where %s: %v", p, where, err)
		}
		var out []string
		for _, c := range res {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	eva, master := Principal{ClientID: "Eva"}, Principal{Master: true}
	for _, tc := range []struct {
		who         Principal
		where, want string
	}{
		{eva, `{"m":{"$all":["Ann","Ben"]}}`, ""},
		{eva, `{"m":"Ben"}`, ""},
		{eva, `{"m":"Ann"}`, "ae"},
		{eva, `{"m":{"$nin":["Ann"]}}`, "ab"},
		{master, `{"m":{"$all":["Ann","Ben"]}}`, "ab"},
		{master, `{"m":"Ann"}`, "ab ae"},
	} {
		if got := ids(tc.who, tc.where); got != tc.want {
			t.Errorf("%+v where %s: got [%s], want [%s]", tc.who, tc.where, got, tc.want)
		}
	}
}
