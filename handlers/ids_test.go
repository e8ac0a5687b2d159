package handlers

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// maxMID is the largest id the 11-character form holds (55 bits).
const maxMID = 1<<55 - 1

func TestMessageIDRoundTrip(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	cases := []int64{
		1, 2, 31, 32, 33, 1023, 1024,
		now << 12, now<<12 + 1, now<<12 + 4095,
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() << 12,
		maxMID - 1, maxMID,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		cases = append(cases, 1+r.Int64N(maxMID))
	}
	for _, mid := range cases {
		s := formatMessageID(mid)
		if len(s) != 11 {
			t.Fatalf("formatMessageID(%d) = %q: %d characters, want 11", mid, s, len(s))
		}
		if strings.Trim(s, midAlphabet) != "" {
			t.Fatalf("formatMessageID(%d) = %q: not in the alphabet", mid, s)
		}
		back, ok := parseMessageID(s)
		if !ok || back != mid {
			t.Fatalf("parseMessageID(formatMessageID(%d) = %q) = %d, %v", mid, s, back, ok)
		}
	}
}

func TestMessageIDTextOrderIsNumericOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mids := []int64{1, 31, 32, maxMID}
	now := time.Now().UnixMilli() << 12
	for i := range 2000 {
		if i%2 == 0 {
			mids = append(mids, 1+r.Int64N(maxMID))
		} else {
			mids = append(mids, now+r.Int64N(1<<20)) // close together, as real ids are
		}
	}
	slices.Sort(mids)
	mids = slices.Compact(mids)
	ids := make([]string, len(mids))
	for i, mid := range mids {
		ids[i] = formatMessageID(mid)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("message ids in numeric order are not in text order")
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("%d < %d but %q >= %q", mids[i-1], mids[i], ids[i-1], ids[i])
		}
	}
}

func TestParseMessageIDRejectsMalformed(t *testing.T) {
	valid := formatMessageID(time.Now().UnixMilli() << 12)
	for _, tt := range []struct{ name, s string }{
		{"empty", ""},
		{"too short", valid[:10]},
		{"too long", valid + "0"},
		{"upper case", strings.ToUpper(formatMessageID(0x7fff_ffff_ffff))},
		{"w is outside base32hex", "0000000000w"},
		{"z", "zzzzzzzzzzz"},
		{"dash", "00000-00001"},
		{"space", " 0000000001"},
		{"non-ASCII", "000000000é"},
		{"zero", "00000000000"},
		{"NUL", "0000000000\x00"},
		{"a conversation id", "6v1ofs2k0ha2e4ktl0s0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if mid, ok := parseMessageID(tt.s); ok {
				t.Errorf("parseMessageID(%q) = %d, accepted", tt.s, mid)
			}
		})
	}
}

func TestRandomID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := randomID()
		if len(id) != 20 || strings.Trim(id, midAlphabet) != "" {
			t.Fatalf("randomID() = %q: want 20 characters of [0-9a-v]", id)
		}
		if seen[id] {
			t.Fatalf("randomID() repeated %q", id)
		}
		seen[id] = true
	}
}
