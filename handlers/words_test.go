package handlers

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/parley-im/parley/store"
)

func TestWordFilter(t *testing.T) {
	f := newWordFilter([]string{"fool", "foolish", "a+b", "ÄRGER", "猫"})
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

// The filter on a group message's text, with a list of 10,000 words: the
// cost follows the text's length, not the list's.
//
//	go test ./handlers -run '^$' -bench WordFilter
func BenchmarkWordFilter(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	words := make([]string, 10_000)
	for i := range words {
		w := make([]byte, 4+r.Intn(8))
		for j := range w {
			w[j] = byte('a' + r.Intn(26))
		}
		words[i] = string(w)
	}
	f := newWordFilter(words)
	for _, text := range []string{
		"hello everyone, see you at the meeting tomorrow",
		strings.Repeat("the quick brown fox jumps over the lazy dog ", 110),
	} {
		b.Run(fmt.Sprintf("%dB", len(text)), func(b *testing.B) {
			for b.Loop() {
				f.replace(text)
			}
		})
	}
}
