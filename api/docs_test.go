package api

import (
	"strings"
	"testing"
)

// The contract leaves members out of compact queries (the README: "members
// (absent for chat rooms and in compact queries)") where LeanCloud returns
// an empty list; the document says so plainly where a client reads it:
// the compact parameter and Conversation.members.
func TestCompactDocumentsAbsentMembers(t *testing.T) {
	doc := New(Options{}).OpenAPI()
	op := doc.Paths["/v1/conversations"].Get
	var compact string
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == "compact" {
			compact = p.Description
		}
	}
	for _, want := range []string{"members", "mutedMembers", "absent", "LeanCloud", "empty list"} {
		if !strings.Contains(compact, want) {
			t.Errorf("the compact parameter's description %q does not say %q", compact, want)
		}
	}
	if !strings.Contains(op.Description, "compact=true leaves out member lists: members and mutedMembers are absent") {
		t.Errorf("the query's description does not say what compact leaves out:\n%s", op.Description)
	}
	conv := doc.Components.Schemas.Map()["Conversation"]
	if conv == nil || conv.Properties["members"] == nil {
		t.Fatal("no Conversation schema with members")
	}
	members := conv.Properties["members"].Description
	for _, want := range []string{"Absent", "compact", "LeanCloud returns an empty list"} {
		if !strings.Contains(members, want) {
			t.Errorf("Conversation.members' description %q does not say %q", members, want)
		}
	}
	if muted := conv.Properties["mutedMembers"].Description; !strings.Contains(muted, "compact") {
		t.Errorf("Conversation.mutedMembers' description %q does not say it is absent in compact queries", muted)
	}
}
