package integration

import (
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

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}
