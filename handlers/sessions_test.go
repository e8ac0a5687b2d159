package handlers

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

func TestValidClientID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"simple", "Tom", true},
		{"one character", "a", true},
		{"one multibyte character", "汤", true},
		{"64 ASCII characters", strings.Repeat("a", 64), true},
		{"65 ASCII characters", strings.Repeat("a", 65), false},
		{"64 Chinese characters (192 bytes)", strings.Repeat("汤", 64), true},
		{"65 Chinese characters", strings.Repeat("汤", 65), false},
		{"64 emoji (256 bytes)", strings.Repeat("🐱", 64), true},
		{"65 emoji", strings.Repeat("🐱", 65), false},
		{"63 ASCII and one Chinese", strings.Repeat("a", 63) + "汤", true},
		{"spaces and punctuation", "Tom & Jerry; the-cat_1.0 @home (web) 🐱", true},
		{"spaces around", " Tom ", true},
		{"a space and a letter", " x", true},
		{"no-break space inside", "Tom\u00a0Cat", true},
		{"ideographic space inside", "汤\u3000姆", true},
		{"a variation selector (Mn)", "\u2764\ufe0f", true},
		{"a flag (regional indicators)", "🇫🇷", true},
		{"right-to-left letters", "שלום", true},
		{"only a space", " ", false},
		{"only spaces", "    ", false},
		{"only an ideographic space", "\u3000", false},
		{"only no-break spaces", "\u00a0\u00a0", false},
		{"only an em space and a thin space", "\u2003\u2009", false},
		{"a colon", "Tom:Jerry", false},
		{"a trailing colon", "zz:", false},
		{"only a colon", ":", false},
		{"a comma", "Tom,Jerry", false},
		{"only a comma", ",", false},
		{"RTL override U+202E", "gnp.\u202eexe", false},
		{"LTR mark U+200E", "Tom\u200e", false},
		{"zero-width space U+200B", "\u200bTom", false},
		{"zero-width non-joiner U+200C", "To\u200cm", false},
		{"zero-width joiner U+200D", "👩\u200d💻", false},
		{"byte order mark U+FEFF", "Tom\ufeff", false},
		{"soft hyphen U+00AD", "To\u00adm", false},
		{"word joiner U+2060", "To\u2060m", false},
		{"tag character U+E0041", "Tom\U000e0041", false},
		{"line separator U+2028", "Tom\u2028", false},
		{"paragraph separator U+2029", "\u2029Tom", false},
		{"URL-unsafe characters", "a/b?c#d%e", true},
		{"empty", "", false},
		{"NUL", "a\x00b", false},
		{"newline", "Tom\n", false},
		{"tab", "\tTom", false},
		{"carriage return", "To\rm", false},
		{"escape", "\x1b[31mred", false},
		{"unit separator 0x1f", "a\x1f", false},
		{"DEL 0x7f", "a\x7f", false},
		{"C1 control U+0085", "a\u0085b", false},
		{"C1 control U+009F", "a\u009f", false},
		{"U+00A0 no-break space is not a control", "a\u00a0b", true},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated UTF-8", "\xe6\xb1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidClientID(tt.id); got != tt.want {
				t.Errorf("ValidClientID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestCheckClientIDs(t *testing.T) {
	if err := checkClientIDs([]string{"Tom", "Jerry", strings.Repeat("汤", 64)}, "members"); err != nil {
		t.Errorf("valid ids rejected: %v", err)
	}
	if err := checkClientIDs(nil, "members"); err != nil {
		t.Errorf("no ids rejected: %v", err)
	}
	for _, bad := range []string{"bad\n", "zz:", "a,b", " ", "\u202eTom"} {
		err := checkClientIDs([]string{"Tom", bad}, "members")
		if err == nil || err.Code != CodeInvalidRequest || !strings.HasPrefix(err.Detail, "members:") {
			t.Errorf("invalid id %q: %v, want INVALID_REQUEST naming the field", bad, err)
		} else if !strings.Contains(err.Detail, ClientIDRule) {
			t.Errorf("invalid id %q: the detail %q does not say what a clientId may hold", bad, err.Detail)
		}
	}
}

// The cache of session states is bounded: past its bound it starts over and
// refills from the database, so every live token still works and a
// logged-out one stays refused.
func TestSessionCacheIsBounded(t *testing.T) {
	defer func(n int64) { maxCachedSessions = n }(maxCachedSessions)
	maxCachedSessions = 3
	s := newRuleService(t, "")
	ctx := context.Background()
	var tokens []string
	for i := range 5 {
		r, err := s.Login(ctx, LoginRequest{ClientID: "c" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, r.Token)
	}
	first, err := s.Authenticate(ctx, tokens[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, first); err != nil {
		t.Fatal(err)
	}
	for range 3 { // more logins: the cache starts over at least once
		if _, err := s.Login(ctx, LoginRequest{ClientID: "more"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.sessionCount.Load(); n > maxCachedSessions {
		t.Errorf("%d cached sessions, bound %d", n, maxCachedSessions)
	}
	if _, err := s.Authenticate(ctx, tokens[0]); err == nil {
		t.Error("the logged-out session's token works again after the cache started over")
	}
	for _, tok := range tokens[1:] {
		if _, err := s.Authenticate(ctx, tok); err != nil {
			t.Errorf("a live session's token after the cache started over: %v", err)
		}
	}
}

// PeerIP is the host of a remote address, IPv4 or IPv6, with or without a
// port: what logins and hooks record as the client's address.
func TestPeerIP(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:5123":    "192.0.2.7",
		"[2001:db8::1]:443": "2001:db8::1",
		"192.0.2.7":         "192.0.2.7",
		"@":                 "@",
	} {
		if got := PeerIP(addr); got != want {
			t.Errorf("PeerIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
