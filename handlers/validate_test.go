package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

// newRuleService is a Service on a fresh database and hub, in auth mode
// mode (open when "").
func newRuleService(t *testing.T, mode string) *Service {
	t.Helper()
	return newService(t, Config{AppID: "app1", MasterKey: "the-master-key", AuthMode: mode, JWTSecret: []byte("secret")})
}

// loginAs logs clientID in and returns its session as a caller.
func loginAs(t *testing.T, s *Service, clientID string) Principal {
	t.Helper()
	r, err := s.Login(context.Background(), LoginRequest{ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	return Principal{ClientID: clientID, SessionID: r.SessionID}
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

// badClientIDs are ids that ValidClientID refuses although the rule before
// ':' and ',' and invisible characters were refused took them.
var badClientIDs = map[string]string{
	"a trailing colon":           "zz:",
	"a colon inside":             "Tom:Tom:zz",
	"a comma":                    "Tom,Jerry",
	"only a space":               " ",
	"only spaces":                "   ",
	"only ideographic spaces":    "\u3000\u3000",
	"only no-break spaces":       "\u00a0",
	"RTL override U+202E":        "moc.\u202eevil",
	"zero-width space U+200B":    "Tom\u200b",
	"zero-width non-joiner":      "To\u200cm",
	"zero-width joiner":          "\u200dTom",
	"byte order mark U+FEFF":     "\ufeffTom",
	"soft hyphen U+00AD":         "To\u00adm",
	"word joiner U+2060":         "To\u2060m",
	"line separator U+2028":      "Tom\u2028",
	"paragraph separator U+2029": "Tom\u2029Jerry",
}

// Every way a clientId enters the server refuses the ids of the rule, with
// a detail that says what a clientId may hold.
func TestClientIDRuleEverywhere(t *testing.T) {
	s := newRuleService(t, "")
	ctx := context.Background()
	p := loginAs(t, s, "Tom")
	master := Principal{Master: true}
	conv, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"Jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	text := Content{Type: intp(-1), Text: "hi"}
	for what, id := range badClientIDs {
		t.Run(what, func(t *testing.T) {
			_, err := s.Login(ctx, LoginRequest{ClientID: id})
			wantInvalid(t, "login", err, "clientId", ClientIDRule)
			_, _, err = s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"Jerry", id}})
			wantInvalid(t, "create, members", err, "members:", ClientIDRule)
			_, err = s.AddMembers(ctx, p, conv.ID, MembersRequest{ClientIDs: []string{id}})
			wantInvalid(t, "add", err, "clientIds:", ClientIDRule)
			_, err = s.RemoveMembers(ctx, p, conv.ID, MembersRequest{ClientIDs: []string{id}})
			wantInvalid(t, "remove", err, "clientIds:", ClientIDRule)
			_, err = s.Online([]string{"Jerry", id})
			wantInvalid(t, "online", err, "ids:", ClientIDRule)
			_, err = s.SubscribePresence(p, []string{id})
			wantInvalid(t, "subscribe", err, "ids:", ClientIDRule)
			_, _, err = s.AdminSend(ctx, master, conv.ID, id, SendRequest{Content: text})
			wantInvalid(t, "admin send, from", err, "from:", ClientIDRule)
			_, err = s.Broadcast(ctx, master, BroadcastRequest{ToAllOnline: true, From: id, Message: text})
			wantInvalid(t, "broadcast, from", err, "from:", ClientIDRule)
			mention := text
			mention.MentionList = []string{id}
			_, _, err = s.Send(ctx, p, conv.ID, SendRequest{Content: mention})
			wantInvalid(t, "send, mentionList", err, "mentionList:", ClientIDRule)
		})
	}
	// Nothing of it was kept.
	got, err := s.GetConversation(ctx, p, conv.ID)
	if err != nil || strings.Join(got.Members, ",") != "Jerry,Tom" {
		t.Errorf("members after refused changes: %v %v", got, err)
	}
}

// Signature mode: the backend's signature of "Tom creates a conversation
// with zz:" (appId:Tom:Tom:zz::timestamp:nonce, the members sorted and
// ':'-joined) is, as a string, the login signature of the clientId
// "Tom:Tom:zz". Neither request is accepted: both ids hold a ':'.
func TestSignedStringsMeanOneThing(t *testing.T) {
	s := newRuleService(t, AuthSignature)
	ctx := context.Background()
	ts := time.Now().UnixMilli()
	nonce := "n1"
	sig := s.sign("app1", "Tom", sortedIDs([]string{"Tom", "zz:"}), strconv.FormatInt(ts, 10), nonce)
	if login := s.sign("app1", "Tom:Tom:zz", "", strconv.FormatInt(ts, 10), nonce); login != sig {
		t.Fatalf("the strings differ; the test no longer shows the ambiguity")
	}
	_, err := s.Login(ctx, LoginRequest{ClientID: "Tom:Tom:zz", Signature: sig, Timestamp: ts, Nonce: nonce})
	wantInvalid(t, "login as Tom:Tom:zz with a conversation's signature", err, ClientIDRule)

	tomSig := s.sign("app1", "Tom", "", strconv.FormatInt(ts, 10), "n2")
	tom, err := s.Login(ctx, LoginRequest{ClientID: "Tom", Signature: tomSig, Timestamp: ts, Nonce: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	p := Principal{ClientID: "Tom", SessionID: tom.SessionID}
	_, _, err = s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"zz:"},
		Signed: Signed{Signature: sig, Timestamp: ts, Nonce: nonce}})
	wantInvalid(t, "create with zz:", err, ClientIDRule)
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

// file.url: an absolute http(s) address or /v1/files/{id}, nothing a
// browser could read as another host or scheme.
func TestCheckFileURL(t *testing.T) {
	for _, u := range []string{
		"https://example.com/a.png",
		"http://example.com/a.mp3",
		"https://example.com/a.png?x=1#f",
		"HTTPS://EXAMPLE.COM/A.PNG",
		"http://127.0.0.1:8080/v1/files/x",
		"https://[::1]:8443/a.png",
		"https://example.com/a%5Cb%20c.png", // escaped, they are only bytes of the path
		"/v1/files/0t5bq1m6k3v8a2d4e6g0",
		"/v1/files/0t5bq1m6k3v8a2d4e6g0h8j1k4",
		"/v1/files/abc",
	} {
		if err := checkFileURL(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	for _, u := range []string{
		`/\evil.com/x.png`,                  // browsers: //evil.com/x.png
		`\\evil.com/x.png`,                  //
		`/\/evil.com`,                       //
		`https:\\evil.com/x.png`,            //
		`https://example.com\@evil.com/`,    //
		`https://example.com/a\b.png`,       //
		`/v1/files/abc\..\..\admin`,         //
		"//evil.com/x.png",                  // protocol-relative
		"///evil.com/x.png",                 //
		"/v1/files/../../admin",             // only an id after the prefix
		"/v1/files/",                        //
		"/v1/files/abc/def",                 //
		"/v1/files/abc?x=1",                 //
		"/v1/files/abc#x",                   //
		"/v1/other",                         // other paths of this server
		"/",                                 //
		"/evil",                             //
		"v1/files/abc",                      // relative
		"cat.png",                           //
		"javascript:alert(1)",               // other schemes
		" javascript:alert(1)",              //
		"java\tscript:alert(1)",             //
		"data:image/png;base64,AAAA",        //
		"ftp://example.com/f",               //
		"file:///etc/passwd",                //
		"http:example.com",                  // no host
		"http:///a.png",                     //
		"https://",                          //
		"https://:443/a.png",                //
		"https://example.com/a b.png",       // white space
		"https://example.com/a.png ",        //
		"https://example.com/a.png\u00a0",   //
		"https://example.com/\u3000",        //
		"https://example.com/\x00",          // control characters
		"https://example.com/\r\nX-Evil: 1", //
		"https://example.com/\u0085",        //
		"https://example.com/\u202egnp.exe", // format characters
		"https://exa\u200bmple.com/",        //
		"https://example.com/\u2028",        // line separator
		"https://example.com/\xff",          // not UTF-8
	} {
		err := checkFileURL(u)
		if err == nil || err.Code != CodeInvalidRequest || !strings.HasPrefix(err.Detail, "file.url:") {
			t.Errorf("%q: %v, want INVALID_REQUEST about file.url", u, err)
		}
	}
}

// A member whose id predates the clientId rule (a ':' in it, stored before
// the rule) is removed by the master key, which signs nothing; a client
// still cannot name it.
func TestMasterRemovesAMemberWhoseIDPredatesTheRule(t *testing.T) {
	s := newRuleService(t, "")
	ctx := context.Background()
	p := loginAs(t, s, "Tom")
	conv, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{Members: []string{"Jerry"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.AddMembers(conv.ID, []string{"old:id"}, 1)
		return err
	}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.RemoveMembers(ctx, p, conv.ID, MembersRequest{ClientIDs: []string{"old:id"}})
	wantInvalid(t, "a client removes old:id", err, ClientIDRule)
	got, err := s.RemoveMembers(ctx, Principal{Master: true}, conv.ID, MembersRequest{ClientIDs: []string{"old:id"}})
	if err != nil || strings.Join(got.Members, ",") != "Jerry,Tom" {
		t.Fatalf("the master key removes old:id: %v %v", got, err)
	}
}

// Attributes nested deeper than MaxAttributesDepth are refused on create and
// on PATCH: SQLite's JSON functions read no deeper than 1,000 levels, and a
// conversation with such attributes made other clients' queries fail.
func TestAttributesDepth(t *testing.T) {
	s := newRuleService(t, "")
	ctx := context.Background()
	p := loginAs(t, s, "Tom")
	nest := func(levels int) map[string]any {
		var v any = 1
		for range levels - 1 {
			v = []any{v}
		}
		return map[string]any{"deep": v}
	}
	_, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{Attributes: nest(MaxAttributesDepth)})
	if err != nil {
		t.Fatalf("attributes %d levels deep: %v", MaxAttributesDepth, err)
	}
	_, _, err = s.CreateConversation(ctx, p, CreateConversationRequest{Attributes: nest(MaxAttributesDepth + 1)})
	wantInvalid(t, "create, one level deeper", err, "nested deeper")
	conv, _, err := s.CreateConversation(ctx, p, CreateConversationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateConversation(ctx, p, conv.ID, UpdateConversationRequest{Attributes: nest(1001)})
	wantInvalid(t, "patch, 1,001 levels", err, "nested deeper")
}
