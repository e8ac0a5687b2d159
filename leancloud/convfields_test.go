package leancloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/parley-im/parley/handlers"
)

func rawFields(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var b map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNameAndAttributes(t *testing.T) {
	var own []string
	name, attrs, err := NameAndAttributes(rawFields(t, `{"name":"n","topic":"top","color":"top","attr":{"color":"attr","size":2},"m":["x"]}`),
		func(k string, _ json.RawMessage) error { own = append(own, k); return nil })
	if err != nil || name != "n" || fmt.Sprint(own) != "[m]" {
		t.Fatalf("%q %v %v %v", name, attrs, own, err)
	}
	// attr wins over a top-level field of the same name.
	if fmt.Sprint(attrs) != "map[color:attr size:2 topic:top]" {
		t.Errorf("attributes %v", attrs)
	}
	if _, attrs, _ := NameAndAttributes(rawFields(t, `{"name":"n"}`), nil); attrs != nil {
		t.Errorf("no attributes: %v", attrs)
	}
	stop := errors.New("stop")
	for in, want := range map[string]error{
		`{"name":1}`:      &FieldError{},
		`{"attr":[1]}`:    &FieldError{},
		`{"unique":true}`: stop,
	} {
		_, _, err := NameAndAttributes(rawFields(t, in), func(string, json.RawMessage) error { return stop })
		var fe *FieldError
		if err == nil || (want == stop) != (err == stop) || (want != stop && !errors.As(err, &fe)) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	u, err := ParseUpdate(rawFields(t, `{"name":"n","topic":"t","attr.color":"red","attr.old":{"__op":"Delete"}}`))
	if err != nil || *u.Name != "n" || u.Attr != nil {
		t.Fatalf("%+v %v", u, err)
	}
	req := u.Request(nil)
	if fmt.Sprint(req.Attributes) != "map[color:red old:<nil> topic:t]" {
		t.Errorf("attributes %v", req.Attributes)
	}
	// attr replaces: every current attribute not in it is removed; a
	// key set one by one wins.
	u, _ = ParseUpdate(rawFields(t, `{"attr":{"a":1},"attr.b":2}`))
	if got := u.Request(map[string]any{"a": 0, "c": 3}).Attributes; fmt.Sprint(got) != "map[a:1 b:2 c:<nil>]" {
		t.Errorf("replace: %v", got)
	}
	u, _ = ParseUpdate(rawFields(t, `{"attr":null}`))
	if got := u.Request(map[string]any{"a": 0}).Attributes; fmt.Sprint(got) != "map[a:<nil>]" {
		t.Errorf("attr null: %v", got)
	}
	if u, _ := ParseUpdate(rawFields(t, `{"name":"x"}`)); u.Request(nil).Attributes != nil {
		t.Error("a rename sets attributes")
	}
	for in, unsupported := range map[string]bool{
		`{"name":1}`: false, `{"attr":"x"}`: false, `{"m":[]}`: false,
		`{"tr":true}`: true, `{"a.b":1}`: true, `{"attr.a.b":1}`: true,
	} {
		_, err := ParseUpdate(rawFields(t, in))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Unsupported != unsupported {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestRealtimeConversationOf(t *testing.T) {
	ttl, expires := int64(3600), int64(10_000_000)
	c := &handlers.Conversation{
		ID: "_tmp:x", Kind: handlers.KindTemporary, Name: "n", Creator: "Tom", Members: []string{"Jerry", "Tom"},
		Attributes: map[string]any{"topic": "t", "members": "shadow", "name": "shadow", "msg": "shadow"},
		TTL:        &ttl, ExpiresAt: &expires, CreatedAt: 1, UpdatedAt: 2,
		LastMessage: &handlers.Message{ID: "m1", From: "Tom", Timestamp: 5, Content: handlers.Content{Data: new(string)}},
	}
	*c.LastMessage.Data = "raw"
	b, err := RealtimeConversationOf(c, expires-1500, false)
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	// Custom attributes at the top level too, but never under a name the
	// object or the JS SDK's conversation has already.
	if o["topic"] != "t" || o["members"] != nil || o["name"] != "n" || o["msg"] != "raw" {
		t.Errorf("%s", b)
	}
	if attr := o["attr"].(map[string]any); len(attr) != 4 {
		t.Errorf("attr %v", attr)
	}
	if o["temp"] != true || o["ttl"] != 2.0 || o["conv_type"] != 4.0 || o["msg_mid"] != "m1" || o["msg_timestamp"] != 5.0 {
		t.Errorf("%s", b)
	}
	b, _ = RealtimeConversationOf(c, 0, true)
	var compact map[string]any
	if json.Unmarshal(b, &compact) != nil || compact["m"] != nil || compact["ttl"] != 10000.0 {
		t.Errorf("compact: %s", b)
	}
}

func TestRealtimeWhere(t *testing.T) {
	for in, want := range map[string]string{
		`{"m":{"$size":2,"$all":["a","b"]}}`:                      `{"m":["a","b"]}`,
		`{"m":{"$size":2,"$all":["a","b","a"]},"x":1}`:            `{"m":["a","b"],"x":1}`,
		`{"$or":[{"m":{"$all":["a"],"$size":1}},{"tr":true}]}`:    `{"$or":[{"m":["a"]},{"tr":true}]}`,
		`{"m":{"$size":3,"$all":["a","b"]}}`:                      `{"m":{"$size":3,"$all":["a","b"]}}`, // not the same set: left to the query
		`{"m":{"$size":1}}`:                                       `{"m":{"$size":1}}`,
		`{"x":{"m":{"$size":1,"$all":["a"]}}}`:                    `{"x":{"m":{"$size":1,"$all":["a"]}}}`,
		`{"objectId":`:                                            `{"objectId":`,
		`{"n":12345678901234567890,"m":{"$size":1,"$all":["a"]}}`: `{"m":["a"],"n":12345678901234567890}`,
	} {
		if got := RealtimeWhere(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
