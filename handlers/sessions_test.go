package handlers

import (
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
		{"spaces and punctuation", "Tom & Jerry: the-cat_1.0 @home", true},
		{"only a space", " ", true},
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
	err := checkClientIDs([]string{"Tom", "bad\n"}, "members")
	if err == nil || err.Code != CodeInvalidRequest || !strings.HasPrefix(err.Detail, "members:") {
		t.Errorf("invalid id: %v, want INVALID_REQUEST naming the field", err)
	}
}
