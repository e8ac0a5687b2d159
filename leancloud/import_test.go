package leancloud

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/store"
)

func openImportDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := store.Open(path, store.Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// importNow is the tests' clock: after the test data's dates.
var importNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func runImport(t *testing.T, ctx context.Context, db *store.DB, opt ImportOptions) (ImportStats, []Problem) {
	t.Helper()
	var problems []Problem
	opt.Report = func(p Problem) { problems = append(problems, p) }
	opt.Now = func() time.Time { return importNow }
	stats, err := Import(ctx, db, opt)
	if err != nil && ctx.Err() == nil {
		t.Fatalf("Import: %v", err)
	}
	return stats, problems
}

// Every record of the test data that cannot be imported is reported with
// its file, line and why, and counted by cause; the rest is imported.
func TestImportReportsEveryRecordItSkips(t *testing.T) {
	db, _ := openImportDB(t)
	stats, problems := runImport(t, context.Background(), db, ImportOptions{
		Conversations: "testdata/_Conversation.0.jsonl",
		MemberInfos:   "testdata/_ConversationMemberInfo.0.jsonl",
		Messages:      []string{"testdata/history.json"},
	})
	var got []string
	for _, p := range problems {
		got = append(got, fmt.Sprintf("%s:%d %s skipped=%v", filepath.Base(p.Pos.File), p.Pos.Line, p.Cause, p.Skipped))
		if p.Reason == "" {
			t.Errorf("%v: no reason", p.Pos)
		}
	}
	want := []string{
		"_Conversation.0.jsonl:4 unreadable record skipped=true",
		"_Conversation.0.jsonl:6 unreadable record skipped=true",
		"_Conversation.0.jsonl:7 unreadable record skipped=true",
		"_Conversation.0.jsonl:9 unreadable record skipped=true",
		"_ConversationMemberInfo.0.jsonl:4 unreadable record skipped=true",
		"history.json:1 conversation not imported skipped=true",
		"history.json:4 conversation not imported skipped=true",
		"history.json:9 conversation not imported skipped=true",
		"history.json:11 unreadable record skipped=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if stats.Conversations != 3 || stats.Members != 2 || stats.MemberInfos != 2 || stats.Skipped() != int64(len(want)) {
		t.Errorf("stats %+v", stats)
	}
	for _, p := range problems {
		if p.Cause == CauseNoConversation && !strings.Contains(p.Reason, "219946ef32e40c515d33ae6975a5c593") {
			t.Errorf("%v: the reason does not name the conversation: %s", p.Pos, p.Reason)
		}
	}
}

// The conversation fields map as LEANCLOUD.md's table says, custom
// top-level fields becoming attributes and ACL dropped; roles are kept.
func TestImportedConversationFields(t *testing.T) {
	db, _ := openImportDB(t)
	runImport(t, context.Background(), db, ImportOptions{
		Conversations: "testdata/_Conversation.0.jsonl",
		MemberInfos:   "testdata/_ConversationMemberInfo.0.jsonl",
	})
	ctx := context.Background()
	c, err := store.GetConversation(ctx, db.R(), "5541c02ce4b0f83f4d44414e")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2015, 6, 29, 1, 0, 0, 0, time.UTC).UnixMilli()
	lm := time.Date(2015, 6, 29, 1, 39, 35, 931e6, time.UTC).UnixMilli()
	if c.Kind != "normal" || c.Name != "Tom & Jerry" || c.Creator != "Tom" || !c.Unique ||
		c.CreatedAt != created || c.UpdatedAt != lm || c.LastMessageAt == nil || *c.LastMessageAt != lm {
		t.Errorf("conversation %+v", c)
	}
	var attrs map[string]any
	json.Unmarshal([]byte(c.Attributes), &attrs)
	if want := map[string]any{"type": "private", "pinned": true}; !reflect.DeepEqual(attrs, want) {
		t.Errorf("attributes %v, want %v", attrs, want)
	}
	members, err := store.MembersOf(ctx, db.R(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members {
		got = append(got, fmt.Sprintf("%s muted=%v", m.ClientID, m.Muted))
	}
	sort.Strings(got)
	if want := []string{"Jerry muted=true", "Tom muted=false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	for id, kind := range map[string]string{"5541c02ce4b0f83f4d444150": "chatroom", "5541c02ce4b0f83f4d444152": "system"} {
		c, err := store.GetConversation(ctx, db.R(), id)
		if err != nil || c.Kind != kind || c.MemberCount != 0 {
			t.Errorf("%s: %+v %v, want a %s without members", id, c, err, kind)
		}
	}
	infos, err := store.MemberInfos(ctx, db.R(), "5541c02ce4b0f83f4d44414e")
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, i := range infos {
		got = append(got, i.ClientID+" "+i.Role+" "+i.InfoID)
	}
	if want := []string{"Jerry manager 5a3b1c2d4e5f60718293a4b6", "Tom owner 5a3b1c2d4e5f60718293a4b5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("member infos %v, want %v", got, want)
	}
}

// writeHistory writes n messages of conversation conv, spread over files
// of per records each (newest first in each, as the REST API pages), and
// returns the directory.
func writeHistory(t *testing.T, dir, conv string, n, per int, start int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f := 0; f*per < n; f++ {
		var recs []map[string]any
		for i := min(n, (f+1)*per) - 1; i >= f*per; i-- {
			recs = append(recs, map[string]any{
				"msg-id": fmt.Sprintf("%sm%05d", conv[:4], i), "conv-id": conv, "from": []string{"Tom", "Jerry"}[i%2],
				"timestamp": start + int64(i)*1000, "is-conv": true,
				"data": fmt.Sprintf(`{"_lctype":-1,"_lctext":"message %d"}`, i),
			})
		}
		b, _ := json.Marshal(recs)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s.%d.json", conv, f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeConversations(t *testing.T, path string, ids ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`#filetype:JSON-streaming {"type":"Class","class":"_Conversation"}` + "\n")
	for _, id := range ids {
		fmt.Fprintf(&b, `{"objectId":%q,"c":"Tom","m":["Tom","Jerry"],"createdAt":"2026-06-01T00:00:00Z","updatedAt":"2026-06-01T00:00:00Z"}`+"\n", id)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.R().QueryRowxContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An import stopped half-way (here: its context cancelled) leaves only
// whole batches behind, and the same import run again stores exactly what
// was missing: every message once. A third run stores nothing.
func TestImportInterruptedThenRunAgain(t *testing.T) {
	dir := t.TempDir()
	convs := []string{"aaaa0000000000000000000a", "bbbb0000000000000000000b", "cccc0000000000000000000c"}
	writeConversations(t, filepath.Join(dir, "conv.jsonl"), convs...)
	start := importNow.Add(-150 * 24 * time.Hour).UnixMilli()
	for _, c := range convs {
		writeHistory(t, filepath.Join(dir, "messages"), c, 400, 100, start)
	}
	opt := ImportOptions{Conversations: filepath.Join(dir, "conv.jsonl"), Messages: []string{filepath.Join(dir, "messages")}, BatchSize: 50}
	db, _ := openImportDB(t)

	ctx, cancel := context.WithCancel(context.Background())
	var progress ImportProgress
	opt.Progress = &progress
	go func() {
		for progress.Messages.Load() < 500 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	first, _ := runImport(t, ctx, db, opt)
	cancel()
	stored := countRows(t, db, "SELECT count(*) FROM messages")
	if stored%50 != 0 || int64(stored) != first.Messages {
		t.Errorf("interrupted: %d messages stored, stats say %d; want whole batches of 50", stored, first.Messages)
	}

	opt.Progress = nil
	second, problems := runImport(t, context.Background(), db, opt)
	if len(problems) > 0 {
		t.Errorf("problems: %v", problems)
	}
	if second.Messages+second.MessagesExisting != 1200 || second.Messages != 1200-first.Messages {
		t.Errorf("second run: %d new, %d existing after %d in the first", second.Messages, second.MessagesExisting, first.Messages)
	}
	if n := countRows(t, db, "SELECT count(*) FROM messages"); n != 1200 {
		t.Errorf("%d messages stored, want 1200", n)
	}
	if n := countRows(t, db, "SELECT count(DISTINCT lc_id) FROM messages"); n != 1200 {
		t.Errorf("%d distinct ids, want 1200", n)
	}
	dump := dumpTables(t, db)
	third, _ := runImport(t, context.Background(), db, opt)
	if third.Messages != 0 || third.MessagesExisting != 1200 || third.Conversations != 0 || third.ConversationsExisting != 3 {
		t.Errorf("third run: %+v", third)
	}
	if after := dumpTables(t, db); !reflect.DeepEqual(dump, after) {
		t.Error("running the import again changed the database")
	}

	// Each conversation's last message is its newest; every member has read
	// everything: imported history is not unread.
	for _, c := range convs {
		conv, err := store.GetConversation(context.Background(), db.R(), c)
		if err != nil {
			t.Fatal(err)
		}
		last, err := store.LastMessages(context.Background(), db.R(), []string{c})
		if err != nil {
			t.Fatal(err)
		}
		newest := start + 399*1000
		if m := last[c]; m == nil || *m.LCID != c[:4]+"m00399" || conv.LastMessageAt == nil || *conv.LastMessageAt != newest || conv.LastSeq != 0 {
			t.Errorf("%s: last message %+v, lastMessageAt %v, lastSeq %d", c, m, conv.LastMessageAt, conv.LastSeq)
		}
		members, _ := store.MembersOf(context.Background(), db.R(), c)
		for _, m := range members {
			if m.ReadSeq != conv.LastSeq || m.ReadAt == nil || *m.ReadAt != newest {
				t.Errorf("%s: member %+v has not read the imported history", c, m)
			}
		}
	}
}

// dumpTables is every row of the tables an import writes.
func dumpTables(t *testing.T, db *store.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range []string{"conversations", "members", "member_infos", "messages", "mentions"} {
		rows, err := db.R().QueryxContext(context.Background(), "SELECT * FROM "+table+" ORDER BY 1, 2")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			v, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(v...))
		}
		rows.Close()
	}
	return out
}

// Retention counts from a message's arrival in Parley: an import of
// five-month-old history survives a purge of everything older than 30
// days, while a message that arrived 31 days before is purged.
func TestImportedHistoryIsKeptByRetention(t *testing.T) {
	dir := t.TempDir()
	writeConversations(t, filepath.Join(dir, "conv.jsonl"), "dddd0000000000000000000d")
	writeHistory(t, filepath.Join(dir, "messages"), "dddd0000000000000000000d", 10, 10, importNow.Add(-150*24*time.Hour).UnixMilli())
	db, _ := openImportDB(t)
	runImport(t, context.Background(), db, ImportOptions{Conversations: filepath.Join(dir, "conv.jsonl"), Messages: []string{filepath.Join(dir, "messages")}})
	cutoff := time.Now().Add(-30 * 24 * time.Hour).UnixMilli()
	if n, err := db.PurgeMessagesBefore(context.Background(), cutoff, 100); err != nil || n != 0 {
		t.Errorf("purge of what arrived before 30 days ago: %d purged, %v; want none of the import", n, err)
	}
	if n := countRows(t, db, "SELECT count(*) FROM messages"); n != 10 {
		t.Errorf("%d messages left, want 10", n)
	}
}

// A dry run reads and converts everything and writes nothing; it needs no
// database.
func TestImportDryRunStoresNothing(t *testing.T) {
	dir := t.TempDir()
	writeConversations(t, filepath.Join(dir, "conv.jsonl"), "eeee0000000000000000000e")
	writeHistory(t, filepath.Join(dir, "messages"), "eeee0000000000000000000e", 30, 10, importNow.Add(-time.Hour).UnixMilli())
	stats, problems := runImport(t, context.Background(), nil, ImportOptions{DryRun: true,
		Conversations: filepath.Join(dir, "conv.jsonl"), Messages: []string{filepath.Join(dir, "messages")}})
	if stats.Conversations != 1 || stats.Messages != 30 || len(problems) != 0 {
		t.Errorf("dry run: %+v %v", stats, problems)
	}
	if _, err := Import(context.Background(), nil, ImportOptions{}); err == nil {
		t.Error("an import that is not a dry run needs a database")
	}
}

// The store's exclusive lock keeps an import off a database a server uses.
func TestImportRefusesADatabaseInUse(t *testing.T) {
	_, path := openImportDB(t)
	if _, err := store.Open(path, store.Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second Open of %s: %v, want it refused as in use", path, err)
	}
}

// Content converts as content.go says, and what cannot be stored is
// reported by cause: an oversized text, an id that is not URL-safe, a
// sender that is no clientId.
func TestImportedMessagesConvertOrAreReported(t *testing.T) {
	dir := t.TempDir()
	conv := "ffff0000000000000000000f"
	writeConversations(t, filepath.Join(dir, "conv.jsonl"), conv)
	recs := []map[string]any{
		{"msg-id": "img1", "conv-id": conv, "from": "Tom", "timestamp": 1000, "data": `{"_lctype":-2,"_lcfile":{"url":"https://files.example.com/a.png","objId":"5a1","metaData":{"name":"a.png","width":8}}}`},
		{"msg-id": "card1", "conv-id": conv, "from": "Tom", "timestamp": 2000, "data": `{"_lctype":3,"_lctext":"hi","card":{"t":1}}`},
		{"msg-id": "gone1", "conv-id": conv, "from": "Tom", "timestamp": 3000, "data": `{"_lctype":-127}`},
		{"msg-id": "raw1", "conv-id": conv, "from": "Tom", "timestamp": 4000, "data": "plain words"},
		{"msg-id": "big1", "conv-id": conv, "from": "Tom", "timestamp": 5000, "data": strings.Repeat("x", 6000)},
		{"msg-id": "bad id", "conv-id": conv, "from": "Tom", "timestamp": 6000, "data": "x"},
		{"msg-id": "who1", "conv-id": conv, "from": "a,b", "timestamp": 7000, "data": "x"},
	}
	b, _ := json.Marshal(recs)
	os.WriteFile(filepath.Join(dir, "h.json"), b, 0o644)
	db, _ := openImportDB(t)
	stats, problems := runImport(t, context.Background(), db, ImportOptions{Conversations: filepath.Join(dir, "conv.jsonl"), Messages: []string{filepath.Join(dir, "h.json")}})
	var causes []string
	for _, p := range problems {
		causes = append(causes, fmt.Sprintf("%d %s", p.Pos.Index, p.Cause))
	}
	if want := []string{"4 content refused", "5 message refused", "6 message refused"}; !reflect.DeepEqual(causes, want) {
		t.Errorf("problems %v, want %v", problems, want)
	}
	if stats.Messages != 4 {
		t.Errorf("%d messages stored, want 4", stats.Messages)
	}
	rows, err := store.History(context.Background(), db.R(), store.HistoryQuery{ConversationID: conv, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range rows {
		got = append(got, fmt.Sprintf("%s type=%d recalled=%v %s", *m.LCID, m.Type, m.Recalled, m.Body))
	}
	want := []string{
		`img1 type=-2 recalled=false {"type":-2,"file":{"url":"https://files.example.com/a.png","name":"a.png","metaData":{"width":8},"objId":"5a1"}}`,
		`card1 type=3 recalled=false {"type":3,"text":"hi","fields":{"card":{"t":1}}}`,
		`gone1 type=0 recalled=true {}`,
		`raw1 type=0 recalled=false {"data":"plain words"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// What a pull saves imports as it is: every conversation the fixture's
// app has and every message of their histories, under LeanCloud's ids,
// with what cannot be imported reported (the conversation whose id is not
// URL-safe, and its messages; the unreadable row); importing the saved
// directory again adds nothing.
func TestImportWhatAPullSaved(t *testing.T) {
	f := fixture(t)
	dir := t.TempDir()
	pulled, err, _ := testPull(t, f, dir, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opt := ImportOptions{Conversations: filepath.Join(dir, ConversationFile), MemberInfos: filepath.Join(dir, MemberInfoFile),
		Messages: []string{filepath.Join(dir, MessagesDir)}}
	db, _ := openImportDB(t)
	stats, problems := runImport(t, context.Background(), db, opt)
	causes := map[string]int{}
	for _, p := range problems {
		causes[p.Cause]++
	}
	// "odd id/é:1" has 4 messages; the unreadable row was never pulled
	// from (its history neither).
	if want := map[string]int{CauseConversation: 1, CauseUnreadable: 1, CauseNoConversation: 4}; !reflect.DeepEqual(causes, want) {
		t.Errorf("problems by cause %v, want %v: %v", causes, want, problems)
	}
	if stats.Messages != int64(pulled.Messages-4) || stats.MemberInfos != 5 {
		t.Errorf("imported %+v after pulling %+v", stats, pulled)
	}
	var ids []string
	rows, err := store.History(context.Background(), db.R(), store.HistoryQuery{ConversationID: "5a5d7432c3422b31ed845e75", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rows {
		ids = append(ids, *m.LCID)
	}
	// The fake's ids of one conversation, oldest first: m0+0000_x …
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, fmt.Sprintf("m0+%04d_x", i))
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("history ids %v, want %v", ids, want)
	}
	again, _ := runImport(t, context.Background(), db, opt)
	if again.Messages != 0 || again.MessagesExisting != stats.Messages || again.Conversations != 0 {
		t.Errorf("second import %+v", again)
	}
}
