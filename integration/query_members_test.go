package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/parley-im/parley/openapi/client"
)

// Conditions on members see the member lists the caller sees: Eva, in
// none of Ann and Ben's conversations, cannot learn that they share one;
// Ann and the master key can.
func TestQueryMembersAsTheCallerSeesThem(t *testing.T) {
	h := start(t)
	ann, eva := h.login("Ann"), h.login("Eva")
	ab := ann.createConv("Ben")
	ann.createConv("Eva")
	for _, tc := range []struct {
		u     *user
		where string
		want  []string
	}{
		{eva, `{"m":{"$all":["Ann","Ben"]}}`, []string{}},
		{eva, `{"m":"Ben"}`, []string{}},
		{ann, `{"m":{"$all":["Ann","Ben"]}}`, []string{ab.Id}},
		{nil, `{"m":{"$all":["Ann","Ben"]}}`, []string{ab.Id}},
	} {
		if got := ids(h.query(tc.u, client.QueryConversationsParams{Where: ptr(tc.where)})); !slicesEqual(got, tc.want) {
			t.Errorf("where %s: got %v, want %v", tc.where, got, tc.want)
		}
	}
}

// LeanCloud's field names in queries: objectId is the id, and mu
// (mutedMembers) the members who muted a conversation, with the members
// operators. Muted members are members: a client's conditions on mu see
// the muted of its own conversations only, so that Eva learns nothing of
// who muted Ann and Ben's conversation, or a system conversation's; the
// master key sees them all.
func TestQueryMutedMembersAndObjectID(t *testing.T) {
	h := start(t)
	ann, ben, eva := h.login("Ann"), h.login("Ben"), h.login("Eva")
	ab := ann.createConv("Ben")
	ae := ann.createConv("Eva")
	quiet := eva.createConv("Ben")
	news := h.createWithMaster(client.CreateConversationRequest{Kind: kind(client.CreateConversationRequestKindSystem), Name: ptr("News")})
	for _, u := range []*user{ann, eva} {
		u.join(news.Id)
	}
	mute := func(u *user, convID string) {
		t.Helper()
		r, err := h.c.MuteConversationWithResponse(ctx(t), convID, u.auth())
		okStatus(t, u.ClientId+" mutes "+convID, 200, r, err)
	}
	mute(ann, ab.Id)
	mute(ben, ab.Id)
	mute(ann, ae.Id)
	mute(ann, news.Id)
	sorted := func(ss ...string) []string { slices.Sort(ss); return ss }
	for _, tc := range []struct {
		u     *user
		where string
		want  []string
	}{
		{eva, `{"mu":"Ann"}`, []string{ae.Id}},
		{eva, `{"mutedMembers":"Ben"}`, []string{}},
		{eva, `{"mu":{"$all":["Ann","Ben"]}}`, []string{}},
		{eva, `{"mu":{"$exists":true}}`, sorted(ae.Id, quiet.Id)},
		{eva, `{"mu":[]}`, []string{quiet.Id}},
		{eva, `{"mu":{"$regex":"^A"}}`, []string{ae.Id}},
		{ann, `{"mu":{"$all":["Ann","Ben"]}}`, []string{ab.Id}},
		{ann, `{"mu":"Ann"}`, sorted(ab.Id, ae.Id)},
		{ann, `{"m":"Ann","mu":{"$ne":"Ann"}}`, []string{}},
		{ben, `{"mu":["Ben","Ann"]}`, []string{ab.Id}},
		{ben, `{"mu":{"$in":["Ann"]}}`, []string{ab.Id}},
		{nil, `{"mu":"Ann"}`, sorted(ab.Id, ae.Id, news.Id)},
		{nil, `{"mu":{"$nin":["Ann"]}}`, []string{quiet.Id}},
		{nil, `{"objectId":"` + ab.Id + `"}`, []string{ab.Id}},
		{eva, `{"objectId":{"$in":["` + ab.Id + `","` + quiet.Id + `"]}}`, sorted(ab.Id, quiet.Id)},
	} {
		got := ids(h.query(tc.u, client.QueryConversationsParams{Where: ptr(tc.where), Sort: ptr("objectId")}))
		if !slices.IsSorted(got) {
			t.Errorf("where %s, sorted by objectId: %v", tc.where, got)
		}
		if !slicesEqual(got, tc.want) {
			t.Errorf("where %s as %v: got %v, want %v", tc.where, tc.u, got, tc.want)
		}
	}
	expectProblem(t, "mu with a number", 400, client.INVALIDQUERY)(h.c.QueryConversationsWithResponse(ctx(t),
		&client.QueryConversationsParams{Where: ptr(`{"mu":5}`)}, eva.auth()))
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
