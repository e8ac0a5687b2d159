package handlers

import (
	"testing"

	"github.com/parley-im/parley/store"
)

func TestWordFilter(t *testing.T) {
	f, err := newWordFilter([]string{"fool", "foolish", "a+b", "ÄRGER", "猫"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"":                         "",
		"no words here":            "no words here",
		"Fool! FOOLISH foolishly":  "***! *** ***ly", // the longer word whole
		"a+b aab a+bb":             "*** aab ***b",   // metacharacters are literal
		"ärger und Ärger, Katze 猫": "*** und ***, Katze ***",
	} {
		if got := f.replace(in); got != want {
			t.Errorf("replace(%q) = %q, want %q", in, got, want)
		}
	}
	var none *wordFilter
	if got := none.replace("fool"); got != "fool" {
		t.Errorf("no list: %q", got)
	}
}

// Group chats, chat rooms and system conversations are filtered; one-to-one
// and temporary conversations are not.
func TestFiltersWords(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		members int
		want    bool
	}{
		{KindNormal, 2, false}, {KindNormal, 3, true}, {KindNormal, 1, true},
		{KindChatRoom, 0, true}, {KindSystem, 0, true}, {KindTemporary, 3, false},
	} {
		if got := filtersWords(&store.Conversation{Kind: tc.kind, MemberCount: tc.members}); got != tc.want {
			t.Errorf("%s of %d members: %v, want %v", tc.kind, tc.members, got, tc.want)
		}
	}
}
