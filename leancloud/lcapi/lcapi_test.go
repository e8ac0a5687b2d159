package lcapi

import (
	"testing"
	"time"
)

// The worked examples of LeanCloud's storage REST guide (LEANCLOUD.md §1.1).
func TestSignWorkedExample(t *testing.T) {
	a := New(Options{AppID: "app", AppKey: "UtOCzqb67d3sN12Kts4URwy8", MasterKey: "DyJegPlemooo4X1tg94gQkw1",
		Now: func() time.Time { return time.UnixMilli(1453014943466 + 60_000) }})
	for _, tc := range []struct {
		sign string
		want level
	}{
		{"d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466", levelApp},
		{"e074720658078c898aa0d4b1b82bdf4b,1453014943466,master", levelMaster},
		{"D5BCBB897E19B2F6633C716DFDFAF9BE,1453014943466", levelApp},
		{"d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466,master", levelNone},
		{"e074720658078c898aa0d4b1b82bdf4b,1453014943466", levelNone},
		{"d5bcbb897e19b2f6633c716dfdfaf9be,1453014943467", levelNone},
		{"d5bcbb897e19b2f6633c716dfdfaf9be", levelNone},
		{"d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466,other", levelNone},
	} {
		if got := a.checkSign(tc.sign); got != tc.want {
			t.Errorf("%s: level %d, want %d", tc.sign, got, tc.want)
		}
	}
	late := New(Options{AppKey: "UtOCzqb67d3sN12Kts4URwy8",
		Now: func() time.Time { return time.UnixMilli(1453014943466).Add(SignWindow + time.Millisecond) }})
	if got := late.checkSign("d5bcbb897e19b2f6633c716dfdfaf9be,1453014943466"); got != levelNone {
		t.Errorf("a sign older than %s: level %d", SignWindow, got)
	}
}
