package convquery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

// viewerFixture: Eva is a member of "mine" (with Ann) and subscribes to the
// system conversation "sub" (with Ann and Ben); "other" is Ann and Ben's,
// "room" a chat room, "tmp" a temporary conversation of Eva and Ann (never
// listed). Every conversation has t = 1, so that a condition on t is an
// attribute lookup to combine with those on members.
func viewerFixture(t *testing.T) *store.DB {
	attrs := `{"t":1}`
	return whereDB(t, []whereRow{
		{store.Conversation{ID: "mine", Kind: "normal", Attributes: attrs, CreatedAt: 1, UpdatedAt: 1}, []string{"Eva", "Ann"}},
		{store.Conversation{ID: "other", Kind: "normal", Attributes: attrs, CreatedAt: 2, UpdatedAt: 2}, []string{"Ann", "Ben"}},
		{store.Conversation{ID: "sub", Kind: "system", Attributes: attrs, CreatedAt: 3, UpdatedAt: 3}, []string{"Eva", "Ann", "Ben"}},
		{store.Conversation{ID: "room", Kind: "chatroom", Attributes: attrs, CreatedAt: 4, UpdatedAt: 4}, nil},
		{store.Conversation{ID: "tmp", Kind: "temporary", Attributes: attrs, CreatedAt: 5, UpdatedAt: 5}, []string{"Eva", "Ann"}},
	})
}

// viewerPlans runs w by each plan QueryConversations may choose (the
// filter, its row tests, each lookup and all of them driving, by probe or
// not, and as QueryConversations chooses) and returns each plan's ids, in
// id order, by the plan's name.
func viewerPlans(t *testing.T, db *store.DB, w Where) map[string][]string {
	t.Helper()
	order, oargs, _ := CompileSort("id")
	q := ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 100}
	plans := map[string]queryPlan{"filter": {filter: frag{sql: w.SQL, args: w.Args}}}
	if w.scanSQL != "" {
		plans["row tests"] = queryPlan{filter: frag{sql: w.scanSQL, args: w.scanArgs}}
	}
	var sets []int
	for i, p := range w.parts {
		if p.set != nil {
			sets = append(sets, i)
			plans[fmt.Sprintf("lookup %d", i)] = queryPlan{filter: driveFrom(w.parts, []int{i})}
		}
	}
	if len(sets) > 0 {
		plans["all lookups"] = queryPlan{filter: driveFrom(w.parts, sets)}
		plans["all lookups, probe"] = queryPlan{probe: true, filter: driveFrom(w.parts, sets)}
	}
	out := map[string][]string{}
	run := func(name string, rows []store.Conversation, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ids := []string{}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		out[name] = ids
	}
	for name, p := range plans {
		rows, err := runPlan(context.Background(), db.R(), q, p)
		run(name, rows, err)
	}
	rows, err := QueryConversations(context.Background(), db.R(), q)
	run("as chosen", rows, err)
	return out
}

// TestWhereMembersAsTheViewerSeesThem: every operator on members, as Eva
// (a member of "mine", a subscriber of "sub", in neither "other" nor
// "room"), as Zed (in nothing) and as the master key. Eva sees the members
// of "mine" only: elsewhere, members are missing, as for a chat room, so
// that no condition tells her who is in a conversation she is not in —
// {"m":{"$all":["Ann","Ben"]}} selects nothing — and every plan agrees.
func TestWhereMembersAsTheViewerSeesThem(t *testing.T) {
	db := viewerFixture(t)
	cases := []struct {
		where            string
		eva, zed, master string
	}{
		// $eq of one clientId (an index lookup).
		{`{"m":"Ann"}`, "mine", "", "mine other sub"},
		{`{"m":"Eva"}`, "mine", "", "mine sub"},
		{`{"m":{"$eq":"Ben"}}`, "", "", "other sub"},
		{`{"members":"Zed"}`, "", "", ""},
		// $eq of a set: exactly those members.
		{`{"m":["Ann","Eva"]}`, "mine", "", "mine"},
		{`{"m":["Ann","Ben"]}`, "", "", "other"},
		{`{"m":["Ben","Ann","Eva"]}`, "", "", "sub"},
		{`{"m":[]}`, "", "", ""},
		// $ne: matches where members are missing.
		{`{"m":{"$ne":"Ann"}}`, "other room sub", "mine other room sub", "room"},
		{`{"m":{"$ne":"Ben"}}`, "mine other room sub", "mine other room sub", "mine room"},
		{`{"m":{"$ne":["Ann","Ben"]}}`, "mine other room sub", "mine other room sub", "mine room sub"},
		// $in (an index lookup).
		{`{"m":{"$in":["Ben","Zed"]}}`, "", "", "other sub"},
		{`{"m":{"$in":["Ann","Zed"]}}`, "mine", "", "mine other sub"},
		{`{"m":{"$in":["Eva"]}}`, "mine", "", "mine sub"},
		{`{"m":{"$in":[]}}`, "", "", ""},
		// $nin.
		{`{"m":{"$nin":["Ann"]}}`, "other room sub", "mine other room sub", "room"},
		{`{"m":{"$nin":["Ben","Zed"]}}`, "mine other room sub", "mine other room sub", "mine room"},
		{`{"m":{"$nin":[]}}`, "mine other room sub", "mine other room sub", "mine other room sub"},
		// $all: who talks to whom.
		{`{"m":{"$all":["Ann","Ben"]}}`, "", "", "other sub"},
		{`{"m":{"$all":["Ann","Eva"]}}`, "mine", "", "mine sub"},
		{`{"m":{"$all":["Ann"]}}`, "mine", "", "mine other sub"},
		{`{"m":{"$all":[]}}`, "", "", ""},
		// $exists.
		{`{"m":{"$exists":true}}`, "mine", "", "mine other sub"},
		{`{"m":{"$exists":false}}`, "other room sub", "mine other room sub", "room"},
		// $regex.
		{`{"m":{"$regex":"^B"}}`, "", "", "other sub"},
		{`{"m":{"$regex":"^a","$options":"i"}}`, "mine", "", "mine other sub"},
		{`{"m":{"$regex":"v"}}`, "mine", "", "mine sub"},
		// With an attribute lookup, in an $or, with other conditions: the
		// lookups of members are as exact as their row tests.
		{`{"m":"Ann","t":1}`, "mine", "", "mine other sub"},
		{`{"m":"Eva","t":{"$gte":1}}`, "mine", "", "mine sub"},
		{`{"m":{"$in":["Ben"]},"t":{"$in":[1,2]}}`, "", "", "other sub"},
		{`{"m":{"$in":["Ben","Eva"]},"t":1}`, "mine", "", "mine other sub"},
		{`{"$or":[{"m":"Ben"},{"t":2}]}`, "", "", "other sub"},
		{`{"$or":[{"m":"Ann"},{"tr":true}]}`, "mine room", "room", "mine other room sub"},
		{`{"m":"Ann","sys":true}`, "", "", "sub"},
		{`{"$and":[{"m":{"$ne":"Ben"}},{"m":{"$exists":true}}]}`, "mine", "", "mine"},
	}
	for _, tc := range cases {
		for _, v := range []struct{ viewer, want string }{{"Eva", tc.eva}, {"Zed", tc.zed}, {"", tc.master}} {
			w, err := CompileWhereFor([]byte(tc.where), v.viewer)
			if err != nil {
				t.Errorf("where %s (viewer %q): %v", tc.where, v.viewer, err)
				continue
			}
			want := strings.Fields(v.want)
			for plan, got := range viewerPlans(t, db, w) {
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("where %s (viewer %q), %s: got %v, want %v", tc.where, v.viewer, plan, got, want)
				}
			}
		}
	}
	// The master key's view is CompileWhere's.
	for _, tc := range cases {
		a, _ := CompileWhere([]byte(tc.where))
		b, _ := CompileWhereFor([]byte(tc.where), "")
		if a.SQL != b.SQL || a.scanSQL != b.scanSQL {
			t.Errorf("where %s: CompileWhereFor(\"\") differs from CompileWhere", tc.where)
		}
	}
}

// TestViewerMemberPlans: a client's own conversations ({"m":"Tom"} by Tom)
// are still found through members_by_client and the primary key of the
// conversations, as for the master key, and the viewer's lookup of another
// member's conversations and a member regex read only the rows of the
// viewer's conversations.
func TestViewerMemberPlans(t *testing.T) {
	db := whereFixture(t)
	order, _, _ := CompileSort("")
	cases := []struct {
		where, viewer string
		want          []string
	}{
		{`{"m":"Tom"}`, "Tom", []string{"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)", "SEARCH members USING COVERING INDEX members_by_client (client_id=?)"}},
		{`{"m":"Jerry"}`, "Tom", []string{"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)", "SEARCH members USING COVERING INDEX members_by_client (client_id=?)"}},
		{`{"m":{"$in":["Jerry","Mary"]}}`, "Tom", []string{"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)", "SEARCH members USING COVERING INDEX members_by_client (client_id=?)"}},
		{`{"m":{"$regex":"^J"}}`, "Tom", []string{"SEARCH vm USING COVERING INDEX members_by_client (client_id=?)", "SEARCH mm USING PRIMARY KEY (conversation_id=?)"}},
		{`{"m":"Tom","topic":"cheese"}`, "Tom", []string{"SEARCH m USING COVERING INDEX members_by_client (client_id=?)", "SEARCH k USING INDEX sqlite_autoindex_conversations_1 (id=?)",
			"SEARCH conversation_attributes USING PRIMARY KEY (key=? AND type=? AND value=?)"}},
	}
	for _, tc := range cases {
		w, err := CompileWhereFor([]byte(tc.where), tc.viewer)
		if err != nil {
			t.Fatal(err)
		}
		filter := frag{sql: w.SQL, args: w.Args}
		if w.parts != nil {
			var sets []int
			for i, p := range w.parts {
				if p.set != nil {
					sets = append(sets, i)
				}
			}
			filter = driveFrom(w.parts, sets)
		}
		sql, args := planSQL(ConversationQuery{Where: w, Order: order, Limit: 10}, queryPlan{filter: filter})
		plan := explain(t, db, sql, args...)
		for _, step := range tc.want {
			if !strings.Contains(plan, step) {
				t.Errorf("where %s by %s: no %q in the plan:\n%s", tc.where, tc.viewer, step, plan)
			}
		}
		if strings.Contains(plan, "SCAN members") || strings.Contains(plan, "SCAN c") && !strings.Contains(plan, "SCAN c USING INDEX") {
			t.Errorf("where %s by %s: a scan:\n%s", tc.where, tc.viewer, plan)
		}
	}
	// As the master key's, the plan of {"m":"Tom"} by Tom: the same steps.
	steps := func(viewer string) string {
		w, _ := CompileWhereFor([]byte(`{"m":"Tom"}`), viewer)
		sql, args := planSQL(ConversationQuery{Where: w, Order: order, Limit: 10}, queryPlan{filter: frag{sql: w.SQL, args: w.Args}})
		return explain(t, db, sql, args...)
	}
	if a, b := steps(""), steps("Tom"); a != b {
		t.Errorf("{\"m\":\"Tom\"} by Tom is planned\n%s\nby the master key\n%s", b, a)
	}
}

// mutedFixture: as viewerFixture, with muted members. Eva is a member of
// "mine" (Ann muted it), "quiet" (nobody did) and "evas" (she did); "other"
// is Ann and Ben's (both muted it); "sub" a system conversation Eva, Ann
// and Ben subscribe to (Ben and Eva muted it); "room" a chat room; "tmp" a
// temporary conversation of Eva and Ann (Eva muted it; never listed).
func mutedFixture(t *testing.T) *store.DB {
	attrs := `{"t":1}`
	db := whereDB(t, []whereRow{
		{store.Conversation{ID: "mine", Kind: "normal", Attributes: attrs, CreatedAt: 1, UpdatedAt: 1}, []string{"Eva", "Ann", "Ben"}},
		{store.Conversation{ID: "quiet", Kind: "normal", Attributes: attrs, CreatedAt: 2, UpdatedAt: 2}, []string{"Eva", "Ann"}},
		{store.Conversation{ID: "evas", Kind: "normal", Attributes: attrs, CreatedAt: 3, UpdatedAt: 3}, []string{"Eva", "Ben"}},
		{store.Conversation{ID: "other", Kind: "normal", Attributes: attrs, CreatedAt: 4, UpdatedAt: 4}, []string{"Ann", "Ben"}},
		{store.Conversation{ID: "sub", Kind: "system", Attributes: attrs, CreatedAt: 5, UpdatedAt: 5}, []string{"Eva", "Ann", "Ben"}},
		{store.Conversation{ID: "room", Kind: "chatroom", Attributes: attrs, CreatedAt: 6, UpdatedAt: 6}, nil},
		{store.Conversation{ID: "tmp", Kind: "temporary", Attributes: attrs, CreatedAt: 7, UpdatedAt: 7}, []string{"Eva", "Ann"}},
	})
	for conv, who := range map[string][]string{"mine": {"Ann"}, "evas": {"Eva"}, "other": {"Ann", "Ben"}, "sub": {"Ben", "Eva"}, "tmp": {"Eva"}} {
		for _, m := range who {
			writeOrFail(t, db, func(tx *store.Tx) error {
				ok, err := tx.SetMuted(conv, m, true)
				if err == nil && !ok {
					err = fmt.Errorf("%s is no member of %s", m, conv)
				}
				return err
			})
		}
	}
	return db
}

// TestWhereMutedMembersAsTheViewerSeesThem: mu (mutedMembers), LeanCloud's
// array of the members who muted a conversation, with every members
// operator, follows the members' rule exactly: muted members are members,
// so a client sees them only in the normal and temporary conversations it
// is a member of, and nowhere else (system conversations included); the
// master key sees them everywhere. Every plan agrees. objectId is id.
func TestWhereMutedMembersAsTheViewerSeesThem(t *testing.T) {
	db := mutedFixture(t)
	all := "evas mine other quiet room sub"
	cases := []struct {
		where            string
		eva, zed, master string
	}{
		// $eq of one clientId (an index lookup): Eva's own mute is not her
		// membership.
		{`{"mu":"Ann"}`, "mine", "", "mine other"},
		{`{"mu":"Ben"}`, "", "", "other sub"},
		{`{"mu":"Eva"}`, "evas", "", "evas sub"},
		{`{"mutedMembers":{"$eq":"Ann"}}`, "mine", "", "mine other"},
		{`{"mutedMembers":"Zed"}`, "", "", ""},
		// $eq of a set: exactly those muted it.
		{`{"mu":["Ann"]}`, "mine", "", "mine"},
		{`{"mu":["Ben","Ann"]}`, "", "", "other"},
		{`{"mu":["Eva","Ben"]}`, "", "", "sub"},
		{`{"mu":[]}`, "quiet", "", "quiet"},
		// $ne, $nin: match where the list is missing.
		{`{"mu":{"$ne":"Ann"}}`, "evas other quiet room sub", all, "evas quiet room sub"},
		{`{"mu":{"$ne":[]}}`, "evas mine other room sub", all, "evas mine other room sub"},
		{`{"mu":{"$nin":["Eva"]}}`, "mine other quiet room sub", all, "mine other quiet room"},
		{`{"mu":{"$nin":[]}}`, all, all, all},
		// $in (an index lookup), $all.
		{`{"mu":{"$in":["Ben","Zed"]}}`, "", "", "other sub"},
		{`{"mu":{"$in":["Eva","Ann"]}}`, "evas mine", "", "evas mine other sub"},
		{`{"mu":{"$in":[]}}`, "", "", ""},
		{`{"mu":{"$all":["Ann","Ben"]}}`, "", "", "other"},
		{`{"mu":{"$all":["Eva"]}}`, "evas", "", "evas sub"},
		{`{"mu":{"$all":[]}}`, "", "", ""},
		// $exists: wherever the members are.
		{`{"mu":{"$exists":true}}`, "evas mine quiet", "", "evas mine other quiet sub"},
		{`{"mu":{"$exists":false}}`, "other room sub", all, "room"},
		// $regex.
		{`{"mu":{"$regex":"^B"}}`, "", "", "other sub"},
		{`{"mu":{"$regex":"^a","$options":"i"}}`, "mine", "", "mine other"},
		// With attribute lookups, in an $or, with conditions on members.
		{`{"mu":"Ann","t":1}`, "mine", "", "mine other"},
		{`{"mu":{"$in":["Eva"]},"t":{"$gte":1}}`, "evas", "", "evas sub"},
		{`{"$or":[{"mu":"Ben"},{"tr":true}]}`, "room", "room", "other room sub"},
		{`{"m":"Eva","mu":{"$ne":"Eva"}}`, "mine quiet", "", "mine quiet"},
		{`{"m":"Ben","mu":"Ben"}`, "", "", "other sub"},
		// objectId is LeanCloud's name of the id.
		{`{"objectId":"mine"}`, "mine", "mine", "mine"},
		{`{"objectId":{"$in":["mine","room","tmp"]}}`, "mine room", "mine room", "mine room"},
		{`{"objectId":{"$ne":"mine"},"mu":"Ann"}`, "", "", "other"},
	}
	for _, tc := range cases {
		for _, v := range []struct{ viewer, want string }{{"Eva", tc.eva}, {"Zed", tc.zed}, {"", tc.master}} {
			w, err := CompileWhereFor([]byte(tc.where), v.viewer)
			if err != nil {
				t.Errorf("where %s (viewer %q): %v", tc.where, v.viewer, err)
				continue
			}
			want := strings.Fields(v.want)
			for plan, got := range viewerPlans(t, db, w) {
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Errorf("where %s (viewer %q), %s: got %v, want %v", tc.where, v.viewer, plan, got, want)
				}
			}
		}
	}
	// What members refuse, mu refuses, naming itself.
	for _, where := range []string{`{"mu":1}`, `{"mu":{"$gt":"A"}}`, `{"mu":["Ann",2]}`, `{"mutedMembers":{"$exists":"yes"}}`} {
		for _, viewer := range []string{"Eva", ""} {
			_, err := CompileWhereFor([]byte(where), viewer)
			if qe, ok := err.(*QueryError); !ok || !strings.Contains(qe.Detail, "where.mu") && !strings.Contains(qe.Detail, "where.mutedMembers") {
				t.Errorf("where %s (viewer %q): %v, want a query error naming the field", where, viewer, err)
			}
		}
	}
	// Sorted by objectId as by id.
	a, _, err := CompileSort("-objectId")
	b, _, _ := CompileSort("-id")
	if err != nil || a != b {
		t.Errorf("sort -objectId: %q %v, want %q", a, err, b)
	}
}

// A condition on mu by one or a few clientIds is a search of
// members_by_client, as one on members is, and a viewer's regex over the
// muted reads only the member rows of its own conversations.
func TestMutedMemberPlans(t *testing.T) {
	db := mutedFixture(t)
	order, _, _ := CompileSort("")
	for _, tc := range []struct{ where, viewer, want string }{
		{`{"mu":"Ann"}`, "", "members_by_client (client_id=?)"},
		{`{"mu":"Ann"}`, "Eva", "members_by_client (client_id=?)"},
		{`{"mu":"Eva"}`, "Eva", "members_by_client (client_id=?)"},
		{`{"mu":{"$in":["Ann","Ben"]}}`, "Eva", "members_by_client (client_id=?)"},
		{`{"mu":{"$regex":"^A"}}`, "Eva", "SEARCH vm USING COVERING INDEX members_by_client (client_id=?)"},
	} {
		w, err := CompileWhereFor([]byte(tc.where), tc.viewer)
		if err != nil {
			t.Fatal(err)
		}
		sql, args := planSQL(ConversationQuery{Where: w, Order: order, Limit: 10}, queryPlan{filter: frag{sql: w.SQL, args: w.Args}})
		plan := explain(t, db, sql, args...)
		if !strings.Contains(plan, tc.want) || strings.Contains(plan, "SCAN members") {
			t.Errorf("where %s by %q: want %q and no scan of members in the plan:\n%s", tc.where, tc.viewer, tc.want, plan)
		}
	}
}
