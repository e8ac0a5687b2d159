package handlers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/parley-im/parley/store"
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

// TestMessageJSON checks that a message and its content write the JSON
// encoding/json writes (HTML left as it is), field for field, for every
// kind of member and string.
func TestMessageJSON(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	typ := func(v int) *int { return &v }
	data := "opaque \"data\" ü"
	strs := []string{"", "plain", "Tom & Jerry <3", "é中文😀", "line\u2028sep\u2029", "\x00\x1f\n\t", "del\x7f",
		`quote " back \ slash`, "bad \xff utf8", "\xed\xa0\x80", "replacement \ufffd", "héllo wörld, ça va ?"}
	msgs := []*Message{
		{ID: "1kb0p2qk000", ConversationID: "c1", From: "Tom", Content: Content{Type: typ(-1), Text: "hi"}, Timestamp: 1795449600000},
		{ID: "m", ConversationID: "c", From: "Jerry", Content: Content{Data: &data}, Timestamp: 1},
		{ID: "m", ConversationID: "c", From: "x", Timestamp: 0}, // no content at all
		{ID: "m", ConversationID: "c", From: "Tom", Content: Content{
			Type: typ(-2), Text: "caption", Attributes: map[string]any{"b": 1.5, "a": []any{"x", nil, true}, "<html>": "&"},
			File:        &File{URL: "https://example.com/cat.png?a=1&b=2", Name: "cat.png", MimeType: "image/png", Size: 20480, MetaData: map[string]any{"width": 640.0, "height": 480.0}},
			Location:    &Location{Latitude: 31.2304, Longitude: -121.4737e-3},
			Fields:      map[string]any{"score": 1e21, "nested": map[string]any{"k": "v"}},
			MentionList: []string{"Jerry", "Mary"}, MentionAll: true,
		}, Timestamp: 5, PatchedAt: i(6), Recalled: true, Transient: true, Priority: "high", ClientMessageID: "c0ffee-1"},
		{ID: "m", ConversationID: "c", From: "Tom", Content: Content{Type: typ(7), Attributes: map[string]any{}, Fields: map[string]any{}, MentionList: []string{}}, Timestamp: 9},
	}
	for _, s := range strs {
		msgs = append(msgs, &Message{ID: s, ConversationID: s, From: s, Content: Content{Type: typ(-1), Text: s, Data: &s, MentionList: []string{s}},
			Timestamp: -3, Priority: s, ClientMessageID: s})
	}
	for n, m := range msgs {
		want, err := marshalAsSent(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.AppendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Errorf("message %d:\n got %s (%v)\nwant %s", n, got, err, want)
		}
		want, _ = marshalAsSent(&m.Content)
		got, err = m.Content.appendJSON([]byte("prefix"))
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("content of message %d:\n got %s (%v)\nwant prefix%s", n, got, err, want)
		}
	}
}

// A stored message spliced into an unread summary says exactly what
// toMessage says of it, whatever its content and state.
func TestStoredMessageJSONIsToMessages(t *testing.T) {
	patched, cmid := int64(1795449601000), `c0ffee "1"`
	rows := []store.Message{
		{MID: 1 << 20, ConversationID: "c1", From: "Tom", Type: -1, Body: `{"type":-1,"text":"<b>hi</b> & \"bye\""}`, Timestamp: 1795449600000},
		{MID: 2 << 20, ConversationID: "c\"2", From: "Jérôme", Body: `{"data":"opaque","attributes":{"a":[1,{"b":null}]}}`, Timestamp: 1795449600001, PatchedAt: &patched, ClientMessageID: &cmid},
		{MID: 3 << 20, ConversationID: "c3", From: "Tom", Type: -5, Body: `{"type":-5,"location":{"latitude":31.2,"longitude":121.4},"mentionAll":true}`, Timestamp: 1795449600002},
		{MID: 4 << 20, ConversationID: "c4", From: "Tom", Type: -1, Body: `{"type":-1,"text":"gone"}`, Timestamp: 1795449600003, Recalled: true},
		{MID: 5 << 20, ConversationID: "room", From: "Tom", Type: -1, Body: `{"type":-1,"text":"urgent"}`, Timestamp: 1795449600004, Priority: "high"},
	}
	for _, row := range rows {
		want, err := json.Marshal(toMessage(&row))
		if err != nil {
			t.Fatal(err)
		}
		got := appendStoredMessage(nil, &row)
		var w, g any
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("spliced JSON does not parse: %v\n%s", err, got)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("spliced:\n%s\ntoMessage:\n%s", got, want)
		}
	}
}

// The unread summary a fresh stream gets is one line of JSON that says
// what encoding the summary with encoding/json says, entries with and
// without a stored last message alike, even if a stored body was not
// compact.
func TestUnreadSummaryEventJSON(t *testing.T) {
	loose := store.Message{MID: 5 << 20, ConversationID: "c5", From: "Tom", Type: -1,
		Body: "{\"type\":-1,\n  \"text\":\"line\\nbreak\"}", Timestamp: 1795449600004}
	text := store.Message{MID: 1 << 20, ConversationID: "c1", From: "Tom", Type: -1,
		Body: `{"type":-1,"text":"<b>hi</b>"}`, Timestamp: 1795449600000}
	ev := &UnreadEvent{Conversations: []UnreadEntry{
		{ConversationID: "c1", UnreadMessagesCount: 3, Mentioned: true, stored: &text},
		{ConversationID: "c2"},
		{ConversationID: "c5", UnreadMessagesCount: 1, stored: &loose},
	}}
	got, err := ev.eventJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(got, "\r\n") {
		t.Fatalf("not one line: %q", got)
	}
	want, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("does not parse: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("eventJSON:\n%s\njson.Marshal:\n%s", got, want)
	}
}
