package handlers

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// newRuleService is a Service on a fresh database and hub, in auth mode
// mode (open when "").
func newRuleService(t *testing.T, mode string) *Service {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "parley.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hub := events.NewHub(events.Options{})
	t.Cleanup(hub.Close)
	return New(Config{AppID: "app1", MasterKey: "the-master-key", AuthMode: mode, JWTSecret: []byte("secret")}, db, hub, nil)
}

// wantInvalid fails unless err is INVALID_REQUEST whose detail holds each
// of says.
func wantInvalid(t *testing.T, what string, err error, says ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidRequest {
		t.Errorf("%s: %v, want INVALID_REQUEST", what, err)
		return
	}
	for _, s := range says {
		if !strings.Contains(e.Detail, s) {
			t.Errorf("%s: detail %q does not say %q", what, e.Detail, s)
		}
	}
}

// Conversation names (create and PATCH) and login tags hold no control
// characters.
func TestNamesAndTagsWithoutControlCharacters(t *testing.T) {
	s := newRuleService(t, "")
	ctx := context.Background()
	tom, err := s.Login(ctx, LoginRequest{ClientID: "Tom", Tag: "Web"})
	if err != nil {
		t.Fatal(err)
	}
	p := Principal{ClientID: "Tom", SessionID: tom.SessionID}
	conv, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"Jerry"}, Name: "Tom & Jerry"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a\x00b", "\x00", "two\nlines", "tab\there", "bell\a", "del\x7f", "c1\u0085", "c1\u009b[31m", "not UTF-8 \xff"} {
		_, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"Jerry"}, Name: bad})
		wantInvalid(t, "create named "+strconv.Quote(bad), err, "name")
		_, err = s.UpdateConversation(ctx, p, conv.ID, UpdateConversationRequest{Name: &bad})
		wantInvalid(t, "rename to "+strconv.Quote(bad), err, "name")
		_, err = s.Login(ctx, LoginRequest{ClientID: "Jerry", Tag: bad})
		wantInvalid(t, "login with tag "+strconv.Quote(bad), err, "tag")
	}
	got, err := s.GetConversation(ctx, p, conv.ID)
	if err != nil || got.Name != "Tom & Jerry" {
		t.Errorf("name after refused renames: %+v %v", got, err)
	}
	// Names of every other kind of character are fine, invisible ones too
	// (a right-to-left mark belongs in a Hebrew name).
	for _, good := range []string{"Cheese & crackers: the sequel, part 2", "שלום\u200f!", "👩\u200d💻 team", " "} {
		if _, err := s.UpdateConversation(ctx, p, conv.ID, UpdateConversationRequest{Name: &good}); err != nil {
			t.Errorf("rename to %q: %v", good, err)
		}
	}
	if _, err := s.Login(ctx, LoginRequest{ClientID: "Jerry", Tag: "Mobile (iOS) 📱"}); err != nil {
		t.Errorf("login with a plain tag: %v", err)
	}
}
