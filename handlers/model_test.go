package handlers

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A conversation's hand-written JSON says what encoding/json says of the
// same struct: every field under its name, omitempty honoured, strings of
// any content escaped, stored attributes spliced in.
func TestConversationJSON(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	text := -1
	full := Conversation{
		ID: "6v1ofs2k0ha2e4ktl0s0", Kind: KindNormal, Name: "Tom & \"Jerry\" <3\n\u2028 ünïcode \x01",
		Creator: `back\slash`, Members: []string{"Tom", "Jerry"}, MutedMembers: []string{"Jerry"}, Muted: true,
		Attributes: map[string]any{"topic": "mice", "n": 3.5, "nested": map[string]any{"a": []any{1.0, "x"}}},
		Unique:     true, CreatedAt: 1795449600000, UpdatedAt: 1795449600001, LastMessageAt: i(1795449600002),
		LastMessage: &Message{ID: "m1", ConversationID: "6v1ofs2k0ha2e4ktl0s0", From: "Tom",
			Content: Content{Type: &text, Text: "hi"}, Timestamp: 1795449600002},
		UnreadCount: i(4), LastDeliveredAt: i(5), LastReadAt: i(6), TTL: i(86400), ExpiresAt: i(1795536000000),
	}
	stored := full
	stored.storedAttributes = json.RawMessage(`{"n":3.5,"nested":{"a":[1,"x"]},"topic":"mice"}`)
	stored.Attributes = nil
	cases := map[string]Conversation{
		"every field":       full,
		"stored attributes": stored,
		"empty":             {},
		"nil attributes":    {ID: "x", Kind: KindChatRoom, Members: []string{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			var gotV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got)
			}
			// What encoding/json writes of the same conversation, attributes decoded.
			type plain Conversation
			want := plain(c)
			if c.storedAttributes != nil {
				if err := json.Unmarshal(c.storedAttributes, &want.Attributes); err != nil {
					t.Fatal(err)
				}
			}
			wantJSON, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var wantV any
			if err := json.Unmarshal(wantJSON, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("AppendJSON:\n%s\nencoding/json:\n%s", got, wantJSON)
			}
		})
	}
}

func TestAppendJSONStringEscapes(t *testing.T) {
	for _, s := range []string{"", "plain", `"`, `\`, "\n\t\x00", "<&>", "é中\u2028", "\xff"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: not a JSON string: %s", s, got)
		}
		want := s
		if s == "\xff" {
			want = "\ufffd" // as encoding/json writes invalid UTF-8
		}
		if back != want {
			t.Errorf("%q came back as %q", s, back)
		}
	}
}
