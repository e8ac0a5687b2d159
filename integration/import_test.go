package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/leancloud"
	"github.com/parley-im/parley/openapi/client"
	"github.com/parley-im/parley/server"
	"github.com/parley-im/parley/store"
)

// Tests of `parley import leancloud` end to end: LeanCloud export files are
// written into a temporary directory, leancloud.Import stores them into a
// fresh database (as the CLI does: store.Open, Import, Close), and a real
// server started on that database is asked, through the API, what the
// clients see.

// The LeanCloud ids of the import fixture.
const (
	lcPair   = "5541c02ce4b0f83f4d44414e" // Tom & Jerry: normal, unique, with history
	lcLobby  = "5541c02ce4b0f83f4d444150" // tr: a chat room
	lcNews   = "5541c02ce4b0f83f4d444152" // sys: a system conversation
	lcQuiet  = "5541c02ce4b0f83f4d444153" // normal, no history, lm only
	lcTextID = "vdkGm4dtRNmhQ5gqUTFBiA"
)

// lcMsg is one record of the fixture's history.
type lcMsg struct {
	id, from string
	at       int64 // ms after lcFixture.base
	data     string
}

// lcFixture is a small LeanCloud export whose messages are five months old.
type lcFixture struct {
	base     int64 // the first message's timestamp
	lm       int64 // the pair's lm
	quietLM  int64 // the quiet conversation's lm
	messages []lcMsg
}

func newLCFixture() *lcFixture {
	base := time.Now().Add(-150 * 24 * time.Hour).Truncate(time.Second).UnixMilli()
	f := &lcFixture{base: base, lm: base + 60_000, quietLM: base - 3_600_000}
	f.messages = []lcMsg{
		{lcTextID, "Tom", 0, `{"_lctype":-1,"_lctext":"hello","_lcattrs":{"k":1}}`},
		{"W0rLd1dtRNmhQ5gqUTFBiB", "Jerry", 1000, `{"_lctype":-2,"_lctext":"a cat","_lcfile":{"url":"https://files.example.com/cat.png","objId":"54699d87e4b0a56c64f470a4","metaData":{"name":"cat.png","format":"png","height":768,"width":1024,"size":18}}}`},
		{"L0c4t10nRNmhQ5gqUTFBiC", "Tom", 2000, `{"_lctype":-5,"_lctext":"here","_lcloc":{"latitude":45.2,"longitude":23.2}}`},
		// Two messages of the same millisecond: ordered by id.
		{"CuSt0mAAAAAAAAAAAAAAAA", "Jerry", 3000, `{"_lctype":7,"_lctext":"score","score":3,"level":"hard"}`},
		{"CuSt0mBBBBBBBBBBBBBBBB", "Tom", 3000, `{"_lctype":-1,"_lctext":"same time"}`},
		{"R3c4ll3dRNmhQ5gqUTFBiD", "Tom", 4000, `{"_lctype":-127}`},
		{"Pl41nDataRNmhQ5gqUTFBE", "Jerry", 5000, `just a string`},
		{"L4stRNmhQ5gqUTFBiFFFFF", "Tom", 6000, `{"_lctype":-1,"_lctext":"last imported"}`},
	}
	return f
}

// ids are the fixture's message ids in history order.
func (f *lcFixture) ids() []string {
	var out []string
	for _, m := range f.messages {
		out = append(out, m.id)
	}
	return out
}

// write writes the export files into dir and returns the import options.
func (f *lcFixture) write(t *testing.T, dir string) leancloud.ImportOptions {
	t.Helper()
	iso := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z") }
	convs := []map[string]any{
		{
			"objectId": lcPair, "name": "Tom & Jerry", "c": "Tom", "m": []string{"Tom", "Jerry", "Tom"},
			"mu":     []string{"Jerry"},
			"attr":   map[string]any{"type": "private", "pinned": true, "topic": "from attr"},
			"topic":  "from the top level", // attr wins
			"color":  "blue",               // a custom top-level field: an attribute
			"ACL":    map[string]any{"*": map[string]any{"read": true}},
			"unique": true, "uniqueId": "8a1c5f06f1b3a8e7c0d9a1f2",
			"lm":        map[string]any{"__type": "Date", "iso": iso(f.lm)},
			"createdAt": iso(f.base - 86_400_000), "updatedAt": iso(f.lm),
		},
		{"objectId": lcLobby, "name": "Lobby", "c": "admin", "tr": true, "m": []string{"Tom"},
			"createdAt": iso(f.base - 86_400_000), "updatedAt": iso(f.base - 86_400_000)},
		{"objectId": lcNews, "name": "News", "c": "admin", "sys": true,
			"createdAt": iso(f.base - 86_400_000), "updatedAt": iso(f.base - 86_400_000)},
		{"objectId": lcQuiet, "name": "Quiet", "c": "Jerry", "m": []string{"Jerry", "Tom"},
			"lm":        map[string]any{"__type": "Date", "iso": iso(f.quietLM)},
			"createdAt": iso(f.base - 86_400_000), "updatedAt": iso(f.base - 86_400_000)},
	}
	var b strings.Builder
	b.WriteString(`#filetype:JSON-streaming {"type":"Class","class":"_Conversation"}` + "\n")
	for _, c := range convs {
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	convFile := filepath.Join(dir, "_Conversation.0.jsonl")
	if err := os.WriteFile(convFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// History as the REST API returns it: newest first.
	var hist []map[string]any
	for i := len(f.messages) - 1; i >= 0; i-- {
		m := f.messages[i]
		hist = append(hist, map[string]any{
			"timestamp": f.base + m.at, "conv-id": lcPair, "data": m.data, "from": m.from,
			"msg-id": m.id, "is-conv": true, "is-room": false, "to": lcPair, "bin": false,
			"from-ip": "202.117.15.217",
		})
	}
	raw, err := json.MarshalIndent(hist, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	histFile := filepath.Join(dir, "history.json")
	if err := os.WriteFile(histFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return leancloud.ImportOptions{Conversations: convFile, Messages: []string{histFile}}
}

// importLC runs leancloud.Import into the database at dbPath as the CLI
// does, failing the test on an error or on any record skipped.
func importLC(t *testing.T, dbPath string, opt leancloud.ImportOptions) leancloud.ImportStats {
	t.Helper()
	db, err := store.Open(dbPath, store.Options{Synchronous: "normal", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	var problems []string
	opt.Report = func(p leancloud.Problem) {
		if p.Skipped {
			problems = append(problems, p.String())
		}
	}
	stats, err := leancloud.Import(context.Background(), db, opt)
	if cerr := db.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if len(problems) > 0 {
		t.Fatalf("Import skipped records:\n%s", strings.Join(problems, "\n"))
	}
	return stats
}

// startImported imports the fixture into a fresh database and starts a
// server on it.
func startImported(t *testing.T, f *lcFixture, opts ...func(*server.Config)) (*harness, leancloud.ImportOptions) {
	t.Helper()
	dir := t.TempDir()
	opt := f.write(t, dir)
	dbPath := filepath.Join(dir, "parley.db")
	importLC(t, dbPath, opt)
	return startOn(t, dbPath, opts...), opt
}

// allHistory reads a conversation's whole history in one page.
func (u *user) allHistory(convID string) []client.Message {
	u.h.t.Helper()
	p := u.history(convID, client.ListMessagesParams{Limit: ptr(int64(1000))})
	if p.HasMore {
		u.h.t.Fatalf("history of %s has more than 1000 messages", convID)
	}
	return *p.Messages
}

func messageIDs(ms []client.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Id)
	}
	return out
}

func (h *harness) getConv(id string, auth client.RequestEditorFn) client.Conversation {
	h.t.Helper()
	r, err := h.c.GetConversationWithResponse(ctx(h.t), id, auth)
	if err != nil || r.StatusCode() != http.StatusOK || r.JSON200 == nil {
		h.t.Fatalf("get conversation %s: %v %d %s", id, err, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// unreadOf is a client's unread count of a conversation as GET /unread says
// it (0 when it lists no entry for it).
func (u *user) unreadOf(convID string) int64 {
	u.h.t.Helper()
	r, err := u.h.c.GetUnreadWithResponse(ctx(u.h.t), u.auth())
	if err != nil || r.StatusCode() != http.StatusOK || r.JSON200 == nil {
		u.h.t.Fatalf("unread of %s: %v %d %s", u.ClientId, err, r.StatusCode(), r.Body)
	}
	for _, e := range deref(r.JSON200.Conversations) {
		if e.ConversationId == convID {
			return e.UnreadMessagesCount
		}
	}
	return 0
}

// Conversations keep their LeanCloud ids, kinds, names, creators, members,
// muted members, attributes (attr, plus custom top-level fields other than
// ACL, attr winning a clash), unique and lm.
func TestImportedConversationsKeepLeanCloudFields(t *testing.T) {
	f := newLCFixture()
	h, _ := startImported(t, f)
	tom, jerry := h.login("Tom"), h.login("Jerry")

	pair := h.getConv(lcPair, h.master())
	if pair.Id != lcPair || pair.Kind != client.ConversationKindNormal || pair.Name != "Tom & Jerry" || pair.Creator != "Tom" || !pair.Unique {
		t.Errorf("pair: id %q kind %q name %q creator %q unique %v", pair.Id, pair.Kind, pair.Name, pair.Creator, pair.Unique)
	}
	if got := deref(pair.Members); !slices.Equal(sorted(got), []string{"Jerry", "Tom"}) {
		t.Errorf("pair members %v, want Jerry, Tom (m without its repeat)", got)
	}
	if got := deref(pair.MutedMembers); !slices.Equal(got, []string{"Jerry"}) {
		t.Errorf("pair mutedMembers %v, want [Jerry] (mu)", got)
	}
	wantAttrs := map[string]any{"type": "private", "pinned": true, "topic": "from attr", "color": "blue"}
	if !sameJSON(t, pair.Attributes, wantAttrs) {
		t.Errorf("pair attributes %s, want %s", canonicalJSON(t, pair.Attributes), canonicalJSON(t, wantAttrs))
	}
	if pair.LastMessageAt == nil || *pair.LastMessageAt != f.lm {
		t.Errorf("pair lastMessageAt %v, want lm %d", deref(pair.LastMessageAt), f.lm)
	}
	if pair.CreatedAt != f.base-86_400_000 {
		t.Errorf("pair createdAt %d, want %d", pair.CreatedAt, f.base-86_400_000)
	}
	if c := h.getConv(lcPair, jerry.auth()); !c.Muted {
		t.Errorf("Jerry (in mu) sees the pair unmuted")
	}
	if c := h.getConv(lcPair, tom.auth()); c.Muted {
		t.Errorf("Tom (not in mu) sees the pair muted")
	}

	lobby := h.getConv(lcLobby, h.master())
	if lobby.Kind != client.ConversationKindChatroom || lobby.Name != "Lobby" || lobby.Creator != "admin" {
		t.Errorf("lobby (tr:true): kind %q name %q creator %q", lobby.Kind, lobby.Name, lobby.Creator)
	}
	news := h.getConv(lcNews, h.master())
	if news.Kind != client.ConversationKindSystem || news.Name != "News" || news.Creator != "admin" {
		t.Errorf("news (sys:true): kind %q name %q creator %q", news.Kind, news.Name, news.Creator)
	}
	quiet := h.getConv(lcQuiet, tom.auth())
	if quiet.Kind != client.ConversationKindNormal || quiet.Unique || quiet.LastMessageAt == nil || *quiet.LastMessageAt != f.quietLM {
		t.Errorf("quiet: kind %q unique %v lastMessageAt %v, want normal, false, lm %d", quiet.Kind, quiet.Unique, deref(quiet.LastMessageAt), f.quietLM)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Imported messages keep their LeanCloud msg-id as their id, their senders
// and timestamps, and their content converted from _lctype JSON.
func TestImportedHistoryKeepsLeanCloudIDs(t *testing.T) {
	f := newLCFixture()
	h, _ := startImported(t, f)
	jerry := h.login("Jerry")

	got := jerry.allHistory(lcPair)
	if ids := messageIDs(got); !slices.Equal(ids, f.ids()) {
		t.Fatalf("history ids %v, want the msg-ids in (timestamp, id) order %v", ids, f.ids())
	}
	for i, m := range got {
		want := f.messages[i]
		if m.From != want.from || m.Timestamp != f.base+want.at || m.ConversationId != lcPair {
			t.Errorf("%s: from %q at %d in %q, want %q at %d in %q", m.Id, m.From, m.Timestamp, m.ConversationId, want.from, f.base+want.at, lcPair)
		}
	}
	type content struct {
		Type       *int64           `json:"type,omitempty"`
		Text       *string          `json:"text,omitempty"`
		Attributes *map[string]any  `json:"attributes,omitempty"`
		File       *client.File     `json:"file,omitempty"`
		Location   *client.Location `json:"location,omitempty"`
		Fields     *map[string]any  `json:"fields,omitempty"`
		Data       *string          `json:"data,omitempty"`
		Recalled   *bool            `json:"recalled,omitempty"`
	}
	want := []content{
		{Type: ptr(int64(-1)), Text: ptr("hello"), Attributes: &map[string]any{"k": 1}},
		{Type: ptr(int64(-2)), Text: ptr("a cat"), File: &client.File{Url: "https://files.example.com/cat.png",
			ObjId: ptr("54699d87e4b0a56c64f470a4"), Name: ptr("cat.png"), Size: ptr(int64(18)),
			MetaData: &map[string]any{"format": "png", "height": 768, "width": 1024}}},
		{Type: ptr(int64(-5)), Text: ptr("here"), Location: &client.Location{Latitude: 45.2, Longitude: 23.2}},
		{Type: ptr(int64(7)), Text: ptr("score"), Fields: &map[string]any{"score": 3, "level": "hard"}},
		{Type: ptr(int64(-1)), Text: ptr("same time")},
		{Recalled: ptr(true)},
		{Data: ptr("just a string")},
		{Type: ptr(int64(-1)), Text: ptr("last imported")},
	}
	for i, m := range got {
		have := content{Type: m.Type, Text: m.Text, Attributes: m.Attributes, File: m.File, Location: m.Location,
			Fields: m.Fields, Data: m.Data, Recalled: m.Recalled}
		if !sameJSON(t, have, want[i]) {
			t.Errorf("%s: content %s, want %s", m.Id, canonicalJSON(t, have), canonicalJSON(t, want[i]))
		}
	}

	// The newest imported message is the conversation's last message.
	r, err := h.c.QueryConversationsWithResponse(ctx(t), &client.QueryConversationsParams{
		Where: ptr(`{"objectId":"` + lcPair + `"}`), WithLastMessage: ptr(true)}, jerry.auth())
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("query: %v %d %s", err, r.StatusCode(), r.Body)
	}
	var page struct {
		Results []client.Conversation `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatalf("query body: %v: %s", err, r.Body)
	}
	if len(page.Results) != 1 || page.Results[0].LastMessage == nil || page.Results[0].LastMessage.Id != f.ids()[len(f.ids())-1] {
		t.Errorf("pair's last message: %s, want %s", r.Body, f.ids()[len(f.ids())-1])
	}
}

// Every endpoint that takes a message id takes an imported message's
// LeanCloud id: history cursors, edit, recall and mark-read.
func TestImportedMessageIDsWorkEverywhere(t *testing.T) {
	f := newLCFixture()
	h, _ := startImported(t, f)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	ids := f.ids()

	// Cursors.
	p := jerry.history(lcPair, client.ListMessagesParams{Before: ptr(ids[3]), Limit: ptr(int64(2))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[1:3]) || !p.HasMore {
		t.Errorf("before=%s limit 2: %v hasMore %v, want %v hasMore true", ids[3], got, p.HasMore, ids[1:3])
	}
	p = jerry.history(lcPair, client.ListMessagesParams{After: ptr(ids[3]), Limit: ptr(int64(2))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[4:6]) || !p.HasMore {
		t.Errorf("after=%s limit 2: %v hasMore %v, want %v hasMore true", ids[3], got, p.HasMore, ids[4:6])
	}
	p = jerry.history(lcPair, client.ListMessagesParams{Before: ptr(ids[0])})
	if got := messageIDs(*p.Messages); len(got) != 0 || p.HasMore {
		t.Errorf("before the oldest: %v hasMore %v", got, p.HasMore)
	}
	expectProblem(t, "before an unknown id", 404, client.MESSAGENOTFOUND)(
		h.c.ListMessagesWithResponse(ctx(t), lcPair, &client.ListMessagesParams{Before: ptr("NoSuchRNmhQ5gqUTFBiAAA")}, jerry.auth()))

	// Edit: Tom's own imported text message.
	er, err := h.c.EditMessageWithResponse(ctx(t), lcPair, lcTextID, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("hello, edited")}, tom.auth())
	if err != nil || er.StatusCode() != http.StatusOK || er.JSON200 == nil {
		t.Fatalf("Tom edits %s: %v %d %s", lcTextID, err, er.StatusCode(), er.Body)
	}
	if m := er.JSON200; m.Id != lcTextID || deref(m.Text) != "hello, edited" || m.PatchedAt == nil || m.Timestamp != f.base {
		t.Errorf("edited: %+v", m)
	}
	expectProblem(t, "Jerry edits Tom's imported message", 403, client.FORBIDDEN)(
		h.c.EditMessageWithResponse(ctx(t), lcPair, lcTextID, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("mine")}, jerry.auth()))

	// Recall: Jerry's own imported image.
	rr, err := h.c.RecallMessageWithResponse(ctx(t), lcPair, ids[1], jerry.auth())
	if err != nil || rr.StatusCode() != http.StatusOK || rr.JSON200 == nil {
		t.Fatalf("Jerry recalls %s: %v %d %s", ids[1], err, rr.StatusCode(), rr.Body)
	}
	if m := rr.JSON200; m.Id != ids[1] || !deref(m.Recalled) || m.File != nil {
		t.Errorf("recalled: %+v", m)
	}
	expectProblem(t, "Tom recalls Jerry's imported message", 403, client.FORBIDDEN)(
		h.c.RecallMessageWithResponse(ctx(t), lcPair, ids[3], tom.auth()))

	hist := jerry.allHistory(lcPair)
	if got := messageIDs(hist); !slices.Equal(got, ids) {
		t.Fatalf("history after edit and recall: %v, want %v", got, ids)
	}
	if deref(hist[0].Text) != "hello, edited" || !deref(hist[1].Recalled) {
		t.Errorf("history does not show the edit and the recall: %+v / %+v", hist[0], hist[1])
	}

	// Mark read up to an imported message.
	mr, err := h.c.MarkReadWithResponse(ctx(t), lcPair, client.ReadRequest{MessageId: ptr(ids[5])}, jerry.auth())
	if err != nil || mr.StatusCode() != http.StatusOK {
		t.Errorf("Jerry marks read up to %s: %v %d %s", ids[5], err, mr.StatusCode(), mr.Body)
	}
	expectProblem(t, "mark read up to an unknown id", 404, client.MESSAGENOTFOUND)(
		h.c.MarkReadWithResponse(ctx(t), lcPair, client.ReadRequest{MessageId: ptr("NoSuchRNmhQ5gqUTFBiAAA")}, jerry.auth()))
	// Tom's lastReadAt of Jerry: the imported message's time.
	if c := h.getConv(lcPair, tom.auth()); c.LastReadAt == nil || *c.LastReadAt < f.base+f.messages[5].at {
		t.Errorf("Tom sees Jerry's lastReadAt %v, want at least %d", deref(c.LastReadAt), f.base+f.messages[5].at)
	}
	// An imported id names a message of its own conversation only.
	expectProblem(t, "an imported id in another conversation", 404, client.MESSAGENOTFOUND)(
		h.c.ListMessagesWithResponse(ctx(t), lcQuiet, &client.ListMessagesParams{Before: ptr(ids[3])}, jerry.auth()))
}

// History is in (timestamp, id) order across the import: imported messages
// come before those sent in Parley afterwards, and pages by either kind of
// id cross the boundary.
func TestImportedHistoryOrdersBeforeNewMessages(t *testing.T) {
	f := newLCFixture()
	h, _ := startImported(t, f)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	ids := f.ids()

	n1 := tom.sendText(lcPair, "new 1")
	n2 := jerry.sendText(lcPair, "new 2")
	if n1.Id == "" || slices.Contains(ids, n1.Id) || n1.Timestamp <= f.base+f.messages[len(ids)-1].at {
		t.Fatalf("new message %+v", n1)
	}
	all := append(slices.Clone(ids), n1.Id, n2.Id)
	if got := messageIDs(tom.allHistory(lcPair)); !slices.Equal(got, all) {
		t.Fatalf("history %v, want %v", got, all)
	}
	// The default page: the newest, Parley's messages last.
	p := tom.history(lcPair, client.ListMessagesParams{Limit: ptr(int64(3))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, all[len(all)-3:]) || !p.HasMore {
		t.Errorf("newest 3: %v hasMore %v, want %v", got, p.HasMore, all[len(all)-3:])
	}
	// Paging back from a Parley id into imported history.
	p = tom.history(lcPair, client.ListMessagesParams{Before: ptr(n1.Id), Limit: ptr(int64(2))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[len(ids)-2:]) || !p.HasMore {
		t.Errorf("before=%s: %v hasMore %v, want %v", n1.Id, got, p.HasMore, ids[len(ids)-2:])
	}
	// Paging back from an imported id goes on in imported history.
	last := ids[len(ids)-1]
	p = tom.history(lcPair, client.ListMessagesParams{Before: ptr(last), Limit: ptr(int64(3))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[len(ids)-4:len(ids)-1]) || !p.HasMore {
		t.Errorf("before=%s: %v hasMore %v, want %v", last, got, p.HasMore, ids[len(ids)-4:len(ids)-1])
	}
	// Paging forward from an imported id reaches Parley's messages.
	p = tom.history(lcPair, client.ListMessagesParams{After: ptr(ids[len(ids)-2]), Limit: ptr(int64(2))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, []string{last, n1.Id}) || !p.HasMore {
		t.Errorf("after=%s: %v hasMore %v, want [%s %s]", ids[len(ids)-2], got, p.HasMore, last, n1.Id)
	}
	p = tom.history(lcPair, client.ListMessagesParams{After: ptr(last)})
	if got := messageIDs(*p.Messages); !slices.Equal(got, []string{n1.Id, n2.Id}) || p.HasMore {
		t.Errorf("after=%s: %v hasMore %v, want [%s %s]", last, got, p.HasMore, n1.Id, n2.Id)
	}
	// Walking the whole history back one message at a time visits every
	// message once, in order.
	var walked []string
	var before *string
	for range len(all) + 1 {
		p := tom.history(lcPair, client.ListMessagesParams{Before: before, Limit: ptr(int64(1))})
		ms := *p.Messages
		if len(ms) == 0 {
			break
		}
		walked = append([]string{ms[0].Id}, walked...)
		before = &ms[0].Id
		if !p.HasMore {
			break
		}
	}
	if !slices.Equal(walked, all) {
		t.Errorf("walking back one by one: %v, want %v", walked, all)
	}
	// The conversation's lastMessageAt is the new message's.
	if c := h.getConv(lcPair, tom.auth()); c.LastMessageAt == nil || *c.LastMessageAt != n2.Timestamp {
		t.Errorf("lastMessageAt %v, want %d", deref(c.LastMessageAt), n2.Timestamp)
	}
}

// Imported history counts as read: nobody has unread messages after the
// import, and a message sent afterwards makes exactly one.
func TestImportedHistoryCountsAsRead(t *testing.T) {
	f := newLCFixture()
	h, _ := startImported(t, f)
	tom, jerry := h.login("Tom"), h.login("Jerry")

	for _, u := range []*user{tom, jerry} {
		if n := u.unreadOf(lcPair); n != 0 {
			t.Errorf("%s has %d unread after the import, want 0", u.ClientId, n)
		}
		if c := h.getConv(lcPair, u.auth()); deref(c.UnreadMessagesCount) != 0 {
			t.Errorf("%s's conversation says %d unread after the import, want 0", u.ClientId, deref(c.UnreadMessagesCount))
		}
	}
	m := tom.sendText(lcPair, "after the import")
	if n := jerry.unreadOf(lcPair); n != 1 {
		t.Errorf("Jerry has %d unread after Tom's new message, want 1", n)
	}
	if c := h.getConv(lcPair, jerry.auth()); deref(c.UnreadMessagesCount) != 1 {
		t.Errorf("Jerry's conversation says %d unread, want 1", deref(c.UnreadMessagesCount))
	}
	if n := tom.unreadOf(lcPair); n != 0 {
		t.Errorf("Tom has %d unread after his own message, want 0", n)
	}
	// Reading up to an imported message leaves the new one unread.
	if r, err := h.c.MarkReadWithResponse(ctx(t), lcPair, client.ReadRequest{MessageId: ptr(f.ids()[len(f.ids())-1])}, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("mark read: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if n := jerry.unreadOf(lcPair); n != 1 {
		t.Errorf("Jerry has %d unread after reading up to the last imported message, want 1", n)
	}
	if r, err := h.c.MarkReadWithResponse(ctx(t), lcPair, client.ReadRequest{MessageId: &m.Id}, jerry.auth()); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("mark read: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if n := jerry.unreadOf(lcPair); n != 0 {
		t.Errorf("Jerry has %d unread after reading the new message, want 0", n)
	}
}

// Importing the same files again adds nothing, also after the server ran on
// the database and new messages were sent.
func TestReimportAddsNothing(t *testing.T) {
	f := newLCFixture()
	dir := t.TempDir()
	opt := f.write(t, dir)
	dbPath := filepath.Join(dir, "parley.db")

	first := importLC(t, dbPath, opt)
	n := int64(len(f.messages))
	if first.Conversations != 4 || first.Messages != n || first.MessagesExisting != 0 {
		t.Errorf("first import: %+v, want 4 conversations and %d messages", first, n)
	}
	second := importLC(t, dbPath, opt)
	if second.Conversations != 0 || second.ConversationsExisting != 4 || second.Messages != 0 || second.MessagesExisting != n {
		t.Errorf("second import: %+v, want 0 new conversations (4 existing), 0 new messages (%d existing)", second, n)
	}

	h := startOn(t, dbPath)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	if got := messageIDs(tom.allHistory(lcPair)); !slices.Equal(got, f.ids()) {
		t.Fatalf("history after two imports: %v, want %v", got, f.ids())
	}
	sent := tom.sendText(lcPair, "between imports")
	h.shutdown()

	third := importLC(t, dbPath, opt)
	if third.Messages != 0 || third.MessagesExisting != n || third.Conversations != 0 {
		t.Errorf("third import: %+v, want 0 new messages (%d existing)", third, n)
	}
	h = startOn(t, dbPath)
	tom, jerry = tom.on(h), jerry.on(h)
	want := append(f.ids(), sent.Id)
	if got := messageIDs(jerry.allHistory(lcPair)); !slices.Equal(got, want) {
		t.Errorf("history after the third import: %v, want %v", got, want)
	}
	if got := deref(h.getConv(lcPair, h.master()).Members); len(got) != 2 {
		t.Errorf("members after three imports: %v", got)
	}
	if n := jerry.unreadOf(lcPair); n != 1 {
		t.Errorf("Jerry's unread after re-importing: %d, want 1 (Tom's message sent in Parley)", n)
	}
	if c := h.getConv(lcPair, tom.auth()); c.LastMessageAt == nil || *c.LastMessageAt != sent.Timestamp {
		t.Errorf("lastMessageAt after re-importing: %v, want %d (the message sent in Parley)", deref(c.LastMessageAt), sent.Timestamp)
	}
}

// Retention counts from when a message arrived in Parley: history five
// months old, imported just now, survives a 30-day retention purge, and
// goes once it has been in Parley longer than the retention.
func TestRetentionKeepsFreshlyImportedHistory(t *testing.T) {
	f := newLCFixture()
	const retention = 30 * 24 * time.Hour
	h, _ := startImported(t, f, func(c *server.Config) { c.Retention = retention })
	tom := h.login("Tom")

	// The purge the retention job runs (handlers.Service.RunRetention):
	// everything older than now - Retention.
	n, err := h.srv.Service().PurgeMessagesBefore(ctx(t), time.Now().Add(-retention))
	if err != nil || n != 0 {
		t.Errorf("30-day purge right after the import: purged %d, %v; want 0", n, err)
	}
	if got := messageIDs(tom.allHistory(lcPair)); !slices.Equal(got, f.ids()) {
		t.Fatalf("history after the purge: %v, want all of %v", got, f.ids())
	}
	// The same purge 31 days on deletes them (the purge itself works).
	n, err = h.srv.Service().PurgeMessagesBefore(ctx(t), time.Now().Add(31*24*time.Hour-retention))
	if err != nil || n != int64(len(f.messages)) {
		t.Errorf("purge 31 days later: purged %d, %v; want %d", n, err, len(f.messages))
	}
	if got := messageIDs(tom.allHistory(lcPair)); len(got) != 0 {
		t.Errorf("history 31 days later: %v, want none", got)
	}
}

// An import cannot open a database a running server holds.
func TestImportRefusedWhileServerRuns(t *testing.T) {
	f := newLCFixture()
	dir := t.TempDir()
	opt := f.write(t, dir)
	dbPath := filepath.Join(dir, "parley.db")
	h := startOn(t, dbPath)

	db, err := store.Open(dbPath, store.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		db.Close()
		t.Fatal("store.Open of the running server's database succeeded")
	}
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("store.Open of the running server's database: %v, want an error wrapping store.ErrInUse", err)
	}
	expectProblem(t, "the conversation was not imported", 404, client.CONVERSATIONNOTFOUND)(
		h.c.GetConversationWithResponse(ctx(t), lcPair, h.master()))

	// Once the server stops, the import runs.
	h.shutdown()
	if st := importLC(t, dbPath, opt); st.Messages != int64(len(f.messages)) {
		t.Errorf("import after the server stopped: %+v", st)
	}
}

// A LeanCloud msg-id of the shape of Parley's own ids (11 characters of
// 0-9 a-v) still names the imported message everywhere.
func TestImportedIDShapedLikeParleyID(t *testing.T) {
	f := newLCFixture()
	const short = "abcdefghijk"
	f.messages[2].id = short
	h, _ := startImported(t, f)
	tom, jerry := h.login("Tom"), h.login("Jerry")
	ids := f.ids()

	if got := messageIDs(jerry.allHistory(lcPair)); !slices.Equal(got, ids) {
		t.Fatalf("history %v, want %v", got, ids)
	}
	p := jerry.history(lcPair, client.ListMessagesParams{Before: ptr(short)})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[:2]) {
		t.Errorf("before=%s: %v, want %v", short, got, ids[:2])
	}
	p = jerry.history(lcPair, client.ListMessagesParams{After: ptr(short), Limit: ptr(int64(1))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[3:4]) {
		t.Errorf("after=%s: %v, want %v", short, got, ids[3:4])
	}
	er, err := h.c.EditMessageWithResponse(ctx(t), lcPair, short, client.EditRequest{Type: ptr(int64(-1)), Text: ptr("moved")}, tom.auth())
	if err != nil || er.StatusCode() != http.StatusOK || er.JSON200 == nil || er.JSON200.Id != short {
		t.Errorf("Tom edits %s: %v %d %s", short, err, er.StatusCode(), er.Body)
	}
	mr, err := h.c.MarkReadWithResponse(ctx(t), lcPair, client.ReadRequest{MessageId: ptr(short)}, jerry.auth())
	if err != nil || mr.StatusCode() != http.StatusOK {
		t.Errorf("Jerry marks read up to %s: %v %d %s", short, err, mr.StatusCode(), mr.Body)
	}
	rr, err := h.c.RecallMessageWithResponse(ctx(t), lcPair, short, tom.auth())
	if err != nil || rr.StatusCode() != http.StatusOK || rr.JSON200 == nil || !deref(rr.JSON200.Recalled) {
		t.Errorf("Tom recalls %s: %v %d %s", short, err, rr.StatusCode(), rr.Body)
	}
	// Parley's own ids go on working beside it.
	m := tom.sendText(lcPair, "new")
	p = jerry.history(lcPair, client.ListMessagesParams{Before: ptr(m.Id), Limit: ptr(int64(1))})
	if got := messageIDs(*p.Messages); !slices.Equal(got, ids[len(ids)-1:]) {
		t.Errorf("before=%s: %v, want %v", m.Id, got, ids[len(ids)-1:])
	}
}
