package leancloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeClock stands for the wall clock: it moves only when the pull sleeps.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

// fixture is an app with every case a pull meets: the three kinds of
// conversation, histories that end on a short page, on an empty page and
// with none, an id that is not file-safe, a row export.go cannot read,
// and a conversation LeanCloud no longer has history for.
func fixture(t *testing.T) *fakeLC {
	f := newFakeLC(t)
	f.scanPage = 2
	f.addConv("5a5d7432c3422b31ed845e75", KindNormal, 7)   // pages 3, 3, 1
	f.addConv("5a5d7432c3422b31ed845e76", KindChatRoom, 6) // 3, 3, then empty
	f.addConv("5a5d7432c3422b31ed845e77", KindSystem, 2)
	f.addConv("5a5d7432c3422b31ed845e78", KindNormal, 0)
	f.addConv("odd id/é:1", KindNormal, 4)
	f.set(func() {
		f.classes["_Conversation"] = append(f.classes["_Conversation"],
			`{"objectId":"5a5d7432c3422b31ed845e79","tr":true,"sys":true}`, // unreadable
			`{"objectId":"5a5d7432c3422b31ed845e7a","name":"gone"}`,        // no history: 4401
			"{\n  \"objectId\": \"5a5d7432c3422b31ed845e7b\",\n  \"name\": \"pretty\"\n}")
	})
	f.addConv("5a5d7432c3422b31ed845e7c", KindChatRoom, 3) // one full page, then empty
	for i, role := range []string{"Owner", "Manager", "Member", "Member", "Member"} {
		f.addMemberInfo("5a5d7432c3422b31ed845e75", fmt.Sprintf("client%d", i), role)
	}
	return f
}

func testPull(t *testing.T, f *fakeLC, dir string, ctx context.Context) (PullStats, error, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	var progress []PullStats
	st, err := Pull(ctx, PullOptions{Server: f.srv.URL, AppID: f.appID, MasterKey: f.masterKey, Dir: dir,
		HTTP: f.srv.Client(), Limit: 3, RatePerMinute: 60, now: clock.now, sleep: clock.sleep,
		Progress: func(s PullStats) { progress = append(progress, s) }})
	// Progress after every page saved, and after a conversation found
	// without history.
	if len(progress) < st.Pages || err == nil && len(progress) > 0 && progress[len(progress)-1].Messages != st.Messages {
		t.Errorf("progress %+v, stats %+v", progress, st)
	}
	return st, err, clock
}

// tree is every file under dir but the checkpoint, by path.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == CheckpointFile {
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s missing", name)
		} else if g != w {
			t.Errorf("%s:\n got %q\nwant %q", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: not expected", name)
		}
	}
}

// checkSaved reads the saved files back with export.go's readers and
// compares them with what the fake served.
func checkSaved(t *testing.T, f *fakeLC, dir string) {
	t.Helper()
	for class, file := range map[string]string{"_Conversation": ConversationFile, "_ConversationMemberInfo": MemberInfoFile} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if want := `#filetype:JSON-streaming {"type":"Class","class":"` + class + `"}`; lines[0] != want {
			t.Errorf("%s: first line %q, want %q", file, lines[0], want)
		}
		rows := f.classes[class]
		if len(lines)-1 != len(rows) {
			t.Fatalf("%s: %d rows, want %d", file, len(lines)-1, len(rows))
		}
		for i, row := range rows {
			if strings.Contains(row, "\n") {
				var c strings.Builder
				json.NewEncoder(&c).Encode(json.RawMessage(row))
				row = strings.TrimSuffix(c.String(), "\n")
			}
			if lines[i+1] != row {
				t.Errorf("%s line %d: %s, want %s", file, i+2, lines[i+1], row)
			}
		}
	}

	// _Conversation
	var want []Conversation
	for _, row := range f.classes["_Conversation"] {
		if c, err := ParseConversation(json.RawMessage(row)); err == nil {
			want = append(want, c)
		}
	}
	var got []Conversation
	r, err := Open(filepath.Join(dir, ConversationFile))
	if err != nil {
		t.Fatal(err)
	}
	skips := 0
	if err := ReadConversations(r, func(_ Position, c Conversation) error { got = append(got, c); return nil },
		func(*Skipped) { skips++ }); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !reflect.DeepEqual(got, want) || skips != 1 {
		t.Errorf("conversations read back (%d skipped):\n got %+v\nwant %+v", skips, got, want)
	}

	// _ConversationMemberInfo
	var wantMI, gotMI []MemberInfo
	for _, row := range f.classes["_ConversationMemberInfo"] {
		m, err := ParseMemberInfo(json.RawMessage(row))
		if err != nil {
			t.Fatal(err)
		}
		wantMI = append(wantMI, m)
	}
	if r, err = Open(filepath.Join(dir, MemberInfoFile)); err != nil {
		t.Fatal(err)
	}
	if err := ReadMemberInfos(r, func(_ Position, m MemberInfo) error { gotMI = append(gotMI, m); return nil }, nil); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if !reflect.DeepEqual(gotMI, wantMI) {
		t.Errorf("member infos:\n got %+v\nwant %+v", gotMI, wantMI)
	}

	// History: the pages of each conversation, in order, are its
	// messages newest first; nothing else is in messages/.
	files := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(dir, MessagesDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files[e.Name()] = true
	}
	for id, msgs := range f.msgs {
		var wantH, gotH []HistoryRecord
		for _, m := range msgs {
			h, err := ParseHistoryRecord(json.RawMessage(m.raw))
			if err != nil {
				t.Fatal(err)
			}
			wantH = append(wantH, h)
		}
		for n := 0; files[HistoryFile(id, n)]; n++ {
			name := HistoryFile(id, n)
			delete(files, name)
			r, err := Open(filepath.Join(dir, MessagesDir, name))
			if err != nil {
				t.Fatal(err)
			}
			records := 0
			if err := ReadHistory(r, func(_ Position, h HistoryRecord) error { gotH = append(gotH, h); records++; return nil }, nil); err != nil {
				t.Fatal(err)
			}
			r.Close()
			if records == 0 || records > 3 {
				t.Errorf("%s: %d records", name, records)
			}
		}
		if !reflect.DeepEqual(gotH, wantH) {
			t.Errorf("history of %q:\n got %+v\nwant %+v", id, gotH, wantH)
		}
	}
	if len(files) > 0 {
		t.Errorf("messages/ also holds %v", files)
	}
}

func TestPull(t *testing.T) {
	f := fixture(t)
	dir := t.TempDir()
	st, err, clock := testPull(t, f, dir, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkSaved(t, f, dir)
	// Pages: scans 5 + 3; histories 3 + 2 (then empty) + 1 + 0 + 2 + 0 + 0 + 1 (then empty).
	want := PullStats{Conversations: 9, MemberInfos: 5, Histories: 8, Unreadable: 1, Missing: 2, Messages: 22,
		Pages: 8 + 9, Requests: 22}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	// The rate: one request a second, the clock moving only by the waits.
	if len(clock.sleeps) != st.Requests-1 {
		t.Errorf("%d waits for %d requests", len(clock.sleeps), st.Requests)
	}
	for _, d := range clock.sleeps {
		if d != time.Second {
			t.Errorf("waited %v, want 1s (60 a minute)", d)
		}
	}
	// The history cursors: newest first, then before the last record.
	if q := f.history["5a5d7432c3422b31ed845e75"]; q != "limit=3&msgid=m0%2B0001_x&timestamp=1700000000000" {
		t.Errorf("last history query %q", q)
	}
	if q := f.history["5a5d7432c3422b31ed845e77"]; q != "limit=3" {
		t.Errorf("last history query of the service conversation %q", q)
	}
	for _, q := range f.requests {
		if strings.HasPrefix(q, "/1.1/scan/") && !strings.Contains(q, "limit=3") {
			t.Errorf("scan without the limit: %s", q)
		}
	}

	// Pulled again: nothing more to fetch, nothing changed.
	before := tree(t, dir)
	st2, err, _ := testPull(t, f, dir, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st2.Requests != 0 || st2.Messages != 22 || st2.Conversations != 9 {
		t.Errorf("second pull: %+v", st2)
	}
	sameTree(t, tree(t, dir), before)
}

func TestPullFaults(t *testing.T) {
	clean := t.TempDir()
	if _, err, _ := testPull(t, fixture(t), clean, context.Background()); err != nil {
		t.Fatal(err)
	}
	f := fixture(t)
	f.set(func() { f.faults = true })
	dir := t.TempDir()
	st, err, clock := testPull(t, f, dir, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, tree(t, dir), tree(t, clean))
	checkSaved(t, f, dir)
	if st.Retries == 0 || st.Requests != 22+st.Retries {
		t.Errorf("stats %+v", st)
	}
	honoured := false
	for _, d := range clock.sleeps {
		honoured = honoured || d == 7*time.Second
	}
	if !honoured {
		t.Errorf("Retry-After: 7 not honoured: waits %v", clock.sleeps)
	}
}

// A pull cancelled at each request in turn, then run again, saves what an
// uninterrupted pull saves.
func TestPullResume(t *testing.T) {
	clean := t.TempDir()
	if _, err, _ := testPull(t, fixture(t), clean, context.Background()); err != nil {
		t.Fatal(err)
	}
	want := tree(t, clean)
	for k := 1; k <= 40; k++ {
		f := fixture(t)
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		f.set(func() {
			f.faults = k%2 == 0
			f.onRequest = func(n int) bool {
				if n == k {
					cancel()
					return true
				}
				return false
			}
		})
		_, err, _ := testPull(t, f, dir, ctx)
		cancel()
		if !errors.Is(err, context.Canceled) && err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		f.set(func() { f.onRequest = nil })
		st, err, _ := testPull(t, f, dir, context.Background())
		if err != nil {
			t.Fatalf("k=%d resumed: %v", k, err)
		}
		sameTree(t, tree(t, dir), want)
		if st.Messages != 22 || st.Conversations != 9 || st.MemberInfos != 5 {
			t.Errorf("k=%d: stats %+v", k, st)
		}
		if t.Failed() {
			t.Fatalf("k=%d", k)
		}
	}
}

// A pull that dies after a page's file is written but before the
// checkpoint says so fetches that page again and rewrites its file; a Scan
// cursor refused on resuming (expired) scans the class again.
func TestPullCrashAfterPage(t *testing.T) {
	clean := t.TempDir()
	if _, err, _ := testPull(t, fixture(t), clean, context.Background()); err != nil {
		t.Fatal(err)
	}
	want := tree(t, clean)
	crash := errors.New("crash")
	for j := 1; j <= 17; j++ { // every page of the pull
		f := fixture(t)
		dir := t.TempDir()
		clock := &fakeClock{}
		pages := 0
		opt := PullOptions{Server: f.srv.URL, AppID: f.appID, MasterKey: f.masterKey, Dir: dir,
			HTTP: f.srv.Client(), Limit: 3, now: clock.now, sleep: clock.sleep,
			afterPage: func(string) error {
				pages++
				if pages == j {
					return crash
				}
				return nil
			}}
		if _, err := Pull(context.Background(), opt); !errors.Is(err, crash) {
			t.Fatalf("j=%d: %v", j, err)
		}
		f.set(func() { f.cursorGen++ })
		opt.afterPage = nil
		st, err := Pull(context.Background(), opt)
		if err != nil {
			t.Fatalf("j=%d resumed: %v", j, err)
		}
		sameTree(t, tree(t, dir), want)
		if st.Messages != 22 || st.Conversations != 9 || st.MemberInfos != 5 {
			t.Errorf("j=%d: stats %+v", j, st)
		}
		if t.Failed() {
			t.Fatalf("j=%d", j)
		}
	}
}

func TestPullUnauthorized(t *testing.T) {
	f := fixture(t)
	clock := &fakeClock{}
	st, err := Pull(context.Background(), PullOptions{Server: f.srv.URL, AppID: f.appID, MasterKey: "wrong",
		Dir: t.TempDir(), HTTP: f.srv.Client(), now: clock.now, sleep: clock.sleep})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != 401 || apiErr.Message != "Unauthorized." {
		t.Fatalf("err %v", err)
	}
	if want := "leancloud: GET /1.1/scan/classes/_Conversation?limit=1000: HTTP 401: code 401: Unauthorized."; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if st.Requests != 1 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestPullGivesUp(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		fakeError(w, http.StatusBadGateway, 502, "Bad gateway.")
	}))
	defer srv.Close()
	clock := &fakeClock{}
	st, err := Pull(context.Background(), PullOptions{Server: srv.URL, AppID: "a", MasterKey: "k",
		Dir: t.TempDir(), HTTP: srv.Client(), Retries: 3, Backoff: time.Second, RatePerMinute: -1,
		now: clock.now, sleep: clock.sleep})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 502 || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Fatalf("err %v", err)
	}
	if n != 4 || st.Requests != 4 || st.Retries != 3 {
		t.Errorf("%d requests, stats %+v", n, st)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !reflect.DeepEqual(clock.sleeps, want) {
		t.Errorf("backoff %v, want %v", clock.sleeps, want)
	}
}

func TestPullOtherApp(t *testing.T) {
	f := fixture(t)
	dir := t.TempDir()
	if _, err, _ := testPull(t, f, dir, context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := Pull(context.Background(), PullOptions{Server: f.srv.URL, AppID: "other", MasterKey: "k", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "use another directory") {
		t.Fatalf("err %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	p := &puller{opt: PullOptions{now: clock.now}}
	for h, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "junk": 0, "-3": 0, "86400": maxRetryAfter,
		"Tue, 01 Dec 2026 00:00:30 GMT": 30 * time.Second,
	} {
		if got := p.retryAfter(h); got != want {
			t.Errorf("Retry-After %q: %v, want %v", h, got, want)
		}
	}
}

func TestHistoryFile(t *testing.T) {
	for id, want := range map[string]string{
		"5a5d7432c3422b31ed845e75": "5a5d7432c3422b31ed845e75.0.json",
		"_tmp:a/b.c":               "_tmp%3Aa%2Fb%2Ec.0.json",
		"a%2F":                     "a%252F.0.json",
	} {
		if got := HistoryFile(id, 0); got != want {
			t.Errorf("%q: %q, want %q", id, got, want)
		}
	}
}

// A page saved by a run that stopped before its checkpoint, whose messages
// are gone when the pull resumes, is not left behind. (And a class
// LeanCloud does not know, 101, is saved empty.)
func TestPullStalePage(t *testing.T) {
	f := newFakeLC(t)
	id := "5a5d7432c3422b31ed845e75"
	f.addConv(id, KindNormal, 3)
	dir := t.TempDir()
	clock := &fakeClock{}
	crash := errors.New("crash")
	opt := PullOptions{Server: f.srv.URL, AppID: f.appID, MasterKey: f.masterKey, Dir: dir,
		HTTP: f.srv.Client(), Limit: 3, now: clock.now, sleep: clock.sleep,
		afterPage: func(file string) error {
			if strings.HasSuffix(file, HistoryFile(id, 0)) {
				return crash
			}
			return nil
		}}
	if _, err := Pull(context.Background(), opt); !errors.Is(err, crash) {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, MessagesDir, HistoryFile(id, 0))); err != nil {
		t.Fatal(err)
	}
	f.set(func() { f.msgs[id] = nil })
	opt.afterPage = nil
	st, err := Pull(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, MessagesDir, HistoryFile(id, 0))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale page: %v", err)
	}
	if st.Messages != 0 || st.Histories != 1 || st.MemberInfos != 0 {
		t.Errorf("stats %+v", st)
	}
}
