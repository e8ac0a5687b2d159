package leancloud

// The pulling half of `parley import leancloud --server`: everything an IM
// app holds on LeanCloud, fetched through its REST API with the master key
// and saved to a directory in the forms the readers of export.go read
// (the dashboard export's JSON lines, and history pages as the API returns them):
//
//	DIR/_Conversation.0.jsonl             the Scan API's rows, dashboard JSON lines
//	DIR/_ConversationMemberInfo.0.jsonl   likewise
//	DIR/messages/<conversation>.<n>.json  history page n (0 = newest), as returned
//	DIR/checkpoint.json                   how far the pull got
//
// A pull that stops (error, cancel, crash) is resumed by running it again
// on the same directory: finished pages are not fetched again, a page that
// was being fetched is fetched again and its file rewritten.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults of PullOptions.
const (
	DefaultRatePerMinute = 100
	DefaultPullRetries   = 6
	DefaultPullBackoff   = time.Second
	MaxPullLimit         = 1000 // LeanCloud's largest page, for Scan and history alike
)

// Files a pull writes in its directory.
const (
	ConversationFile = "_Conversation.0.jsonl"
	MemberInfoFile   = "_ConversationMemberInfo.0.jsonl"
	MessagesDir      = "messages"
	CheckpointFile   = "checkpoint.json"
)

// Cap on one answer's body: a history page of 1000 records of ≤5 KB each
// stays far below it.
const maxPullBody = 256 << 20

// Longest wait a Retry-After may ask for.
const maxRetryAfter = 15 * time.Minute

// PullOptions say what to pull from where.
type PullOptions struct {
	Server    string // the app's API domain, "https://xxxx.api.lncldglobal.com" ("https://" assumed when absent)
	AppID     string // X-LC-Id
	MasterKey string // sent as X-LC-Key: <MasterKey>,master
	Dir       string // where the files go (created when absent)

	HTTP *http.Client // nil: a client with a 5-minute timeout per request

	// RatePerMinute bounds the requests made (default
	// DefaultRatePerMinute; negative: no bound). LeanCloud bills REST
	// calls and answers 429 past the app's quota.
	RatePerMinute int
	// Retries is how many times one request is retried after a 429, a 5xx,
	// a network error or an unreadable answer (default DefaultPullRetries;
	// negative: none). The waits double from Backoff (default
	// DefaultPullBackoff) up to a minute; a Retry-After asking for more is
	// honoured (up to 15 minutes).
	Retries int
	Backoff time.Duration
	// Limit is the rows asked per Scan or history request (default and
	// most MaxPullLimit).
	Limit int

	// Log gets what the pull does (nil: nothing is logged).
	Log *slog.Logger
	// Progress, when set, is called after every page saved.
	Progress func(PullStats)

	// Tests replace the clock and the sleeping (rate limit and backoff),
	// and may fail the pull right after a page's file is written.
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	afterPage func(file string) error
}

// PullStats count what a pull saved (in Dir, over every run) and what
// this run did.
type PullStats struct {
	Conversations int // _Conversation rows saved
	MemberInfos   int // _ConversationMemberInfo rows saved
	Histories     int // conversations whose history is saved completely
	Unreadable    int // _Conversation rows export.go cannot read (their history is not pulled)
	Missing       int // conversations LeanCloud no longer knows (404, 4401 INVALID_MESSAGING_TARGET): no history
	Messages      int // history records saved
	Pages         int // pages saved by this run
	Requests      int // HTTP requests made by this run, retries included
	Retries       int // of which retries
}

// APIError is LeanCloud's answer to a request it refused: the HTTP status
// and the body's {"code", "error"}.
type APIError struct {
	Method  string
	Path    string // path and query, without the server
	Status  int
	Code    int    // LeanCloud's code (0 when the body had none)
	Message string // LeanCloud's "error", or the body when it was not {code, error}
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("leancloud: %s %s: HTTP %d: code %d: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("leancloud: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// checkpoint is DIR/checkpoint.json: how far each part of the pull got.
type checkpoint struct {
	Version int                   `json:"version"`
	Server  string                `json:"server"`
	AppID   string                `json:"appId"`
	Scans   map[string]*scanState `json:"scans"`
	History historyProgress       `json:"history"`
}

// historyProgress is how far the histories got. Conversations are pulled
// one after the other in the order of the saved _Conversation file (which
// no longer changes once its Scan is done), so the checkpoint stays small
// however many there are.
type historyProgress struct {
	Next     int          `json:"next"`     // the conversations before this one (readable ones, first rows of each id) are complete
	Messages int          `json:"messages"` // records saved for them
	Missing  int          `json:"missing"`  // of them, conversations LeanCloud had no history for
	Current  historyState `json:"current"`  // conversation Next, as far as it got
}

// scanState is one class's Scan: the file holds Size bytes (header and Rows
// rows) written from the pages before Cursor.
type scanState struct {
	Cursor string `json:"cursor,omitempty"`
	Done   bool   `json:"done,omitempty"`
	Rows   int    `json:"rows"`
	Size   int64  `json:"size"`
}

// historyState is one conversation's history: Pages pages written (files
// 0…Pages-1), the last one ending with the record (Timestamp, MsgID).
type historyState struct {
	ID        string `json:"id,omitempty"`
	Pages     int    `json:"pages"`
	Messages  int    `json:"messages"`
	Timestamp int64  `json:"timestamp,omitempty"`
	MsgID     string `json:"msgId,omitempty"`
}

type puller struct {
	opt   PullOptions
	base  string
	http  *http.Client
	log   *slog.Logger
	cp    *checkpoint
	stats PullStats

	interval time.Duration // between requests; 0: unbounded
	next     time.Time     // earliest time of the next request
}

// Pull fetches the app's conversations, member infos and message history
// into opt.Dir, continuing a pull that stopped there before. The stats are
// returned with the error too.
func Pull(ctx context.Context, opt PullOptions) (PullStats, error) {
	p, err := newPuller(opt)
	if err != nil {
		return PullStats{}, err
	}
	err = p.run(ctx)
	p.count()
	return p.stats, err
}

func newPuller(opt PullOptions) (*puller, error) {
	switch {
	case opt.Server == "":
		return nil, errors.New("leancloud: pull: no server")
	case opt.AppID == "":
		return nil, errors.New("leancloud: pull: no app id")
	case opt.MasterKey == "":
		return nil, errors.New("leancloud: pull: no master key")
	case opt.Dir == "":
		return nil, errors.New("leancloud: pull: no directory")
	}
	base := strings.TrimRight(opt.Server, "/")
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("leancloud: pull: bad server %q", opt.Server)
	}
	if opt.RatePerMinute == 0 {
		opt.RatePerMinute = DefaultRatePerMinute
	}
	if opt.Retries == 0 {
		opt.Retries = DefaultPullRetries
	} else if opt.Retries < 0 {
		opt.Retries = 0
	}
	if opt.Backoff <= 0 {
		opt.Backoff = DefaultPullBackoff
	}
	if opt.Limit <= 0 || opt.Limit > MaxPullLimit {
		opt.Limit = MaxPullLimit
	}
	if opt.now == nil {
		opt.now = time.Now
	}
	if opt.sleep == nil {
		opt.sleep = sleep
	}
	p := &puller{opt: opt, base: base, http: opt.HTTP, log: opt.Log}
	if p.http == nil {
		p.http = &http.Client{Timeout: 5 * time.Minute}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opt.RatePerMinute > 0 {
		p.interval = time.Minute / time.Duration(opt.RatePerMinute)
	}
	return p, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *puller) run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(p.opt.Dir, MessagesDir), 0o755); err != nil {
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	if err := p.loadCheckpoint(); err != nil {
		return err
	}
	for _, class := range []struct{ name, file string }{
		{"_Conversation", ConversationFile},
		{"_ConversationMemberInfo", MemberInfoFile},
	} {
		if err := p.scan(ctx, class.name, class.file); err != nil {
			return err
		}
	}
	convs, err := p.conversations()
	if err != nil {
		return err
	}
	h := &p.cp.History
	if h.Next > len(convs) || h.Next < len(convs) && h.Current.ID != "" && h.Current.ID != convs[h.Next].id {
		return fmt.Errorf("leancloud: pull: %s does not match %s (conversation %d): delete it to start the pull afresh",
			CheckpointFile, ConversationFile, h.Next)
	}
	for h.Next < len(convs) {
		if err := p.history(ctx, convs[h.Next]); err != nil {
			return err
		}
	}
	p.count()
	p.log.Info("leancloud pull complete", "dir", p.opt.Dir, "conversations", p.stats.Conversations,
		"memberInfos", p.stats.MemberInfos, "messages", p.stats.Messages, "missing", p.stats.Missing,
		"unreadable", p.stats.Unreadable)
	return nil
}

// count fills the stats kept by the checkpoint.
func (p *puller) count() {
	if p.cp == nil {
		return
	}
	if s := p.cp.Scans["_Conversation"]; s != nil {
		p.stats.Conversations = s.Rows
	}
	if s := p.cp.Scans["_ConversationMemberInfo"]; s != nil {
		p.stats.MemberInfos = s.Rows
	}
	h := &p.cp.History
	p.stats.Histories, p.stats.Messages, p.stats.Missing = h.Next, h.Messages+h.Current.Messages, h.Missing
}

func (p *puller) progress() {
	if p.opt.Progress != nil {
		p.count()
		p.opt.Progress(p.stats)
	}
}

// --- checkpoint ---

func (p *puller) loadCheckpoint() error {
	path := filepath.Join(p.opt.Dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		p.cp = &checkpoint{Version: 1, Server: p.base, AppID: p.opt.AppID,
			Scans: map[string]*scanState{}}
		return nil
	}
	if err != nil {
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return fmt.Errorf("leancloud: pull: %s: %v (delete it to start the pull afresh)", path, err)
	}
	if cp.Version != 1 {
		return fmt.Errorf("leancloud: pull: %s: version %d, not 1", path, cp.Version)
	}
	if cp.AppID != p.opt.AppID {
		return fmt.Errorf("leancloud: pull: %s holds a pull of app %q, not %q: use another directory", p.opt.Dir, cp.AppID, p.opt.AppID)
	}
	if cp.Scans == nil {
		cp.Scans = map[string]*scanState{}
	}
	cp.Server = p.base
	p.cp = &cp
	p.log.Info("leancloud pull resumed", "dir", p.opt.Dir)
	return nil
}

func (p *puller) saveCheckpoint() error {
	b, err := json.MarshalIndent(p.cp, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.opt.Dir, CheckpointFile), append(b, '\n'))
}

// writeFileAtomic replaces path with data: a reader (or a crash) sees the
// old file or the new one, never a part.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	return nil
}

// --- Scan ---

// scan pages class through the Scan API into file (JSON lines with the
// dashboard's header), each row as received.
func (p *puller) scan(ctx context.Context, class, file string) error {
	path := filepath.Join(p.opt.Dir, file)
	st := p.cp.Scans[class]
	if st != nil && st.Done {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("leancloud: pull: %w", err)
	}
	resumed := st != nil && st.Cursor != "" && fi.Size() >= st.Size
	restart := func() error {
		header := fmt.Sprintf("#filetype:JSON-streaming {\"type\":\"Class\",\"class\":%q}\n", class)
		st = &scanState{Size: int64(len(header))}
		p.cp.Scans[class] = st
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("leancloud: pull: %w", err)
		}
		if _, err := f.WriteAt([]byte(header), 0); err != nil {
			return fmt.Errorf("leancloud: pull: %w", err)
		}
		return nil
	}
	if resumed {
		// Rows written after the checkpoint are written again.
		if err := f.Truncate(st.Size); err != nil {
			return fmt.Errorf("leancloud: pull: %w", err)
		}
		p.log.Info("leancloud scan resumed", "class", class, "rows", st.Rows)
	} else if err := restart(); err != nil {
		return err
	}
	for {
		q := url.Values{"limit": {strconv.Itoa(p.opt.Limit)}}
		if st.Cursor != "" {
			q.Set("cursor", st.Cursor)
		}
		body, err := p.get(ctx, "/1.1/scan/classes/"+url.PathEscape(class), q)
		var apiErr *APIError
		if resumed && errors.As(err, &apiErr) && apiErr.Status != http.StatusUnauthorized && apiErr.Status != http.StatusForbidden {
			// A Scan cursor lives 10 minutes: one kept from an earlier
			// run is likely refused. Scan the class again.
			p.log.Warn("leancloud scan cursor refused, scanning again", "class", class, "err", err)
			resumed = false
			if err := restart(); err != nil {
				return err
			}
			continue
		}
		if errors.As(err, &apiErr) && apiErr.Code == 101 && st.Rows == 0 {
			// 101 "Class or object doesn't exists.": an app that never
			// had a row of the class. Saved empty.
			p.log.Warn("leancloud class absent, saved empty", "class", class, "err", err)
			body, err = []byte(`{"results":[],"cursor":null}`), nil
		}
		if err != nil {
			return err
		}
		resumed = false
		var page struct {
			Results []json.RawMessage `json:"results"`
			Cursor  *string           `json:"cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("leancloud: pull: scan %s: answer is not {\"results\": [...], \"cursor\": ...}: %v", class, err)
		}
		w := bufio.NewWriter(io.NewOffsetWriter(f, st.Size))
		var n int64
		for i, row := range page.Results {
			if len(row) == 0 || row[0] != '{' {
				return fmt.Errorf("leancloud: pull: scan %s: result %d is not an object", class, i)
			}
			// One row per line: a row's insignificant white space (a
			// pretty-printed answer) goes, nothing else changes.
			line := []byte(row)
			if strings.ContainsAny(string(row), "\n\r") {
				var b bytes.Buffer
				if err := json.Compact(&b, row); err != nil {
					return fmt.Errorf("leancloud: pull: scan %s: result %d: %v", class, i, err)
				}
				line = b.Bytes()
			}
			w.Write(line)
			w.WriteByte('\n')
			n += int64(len(line)) + 1
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("leancloud: pull: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("leancloud: pull: %w", err)
		}
		st.Size += n
		st.Rows += len(page.Results)
		if page.Cursor == nil || *page.Cursor == "" {
			st.Cursor, st.Done = "", true
		} else {
			st.Cursor = *page.Cursor
		}
		p.stats.Pages++
		if p.opt.afterPage != nil {
			if err := p.opt.afterPage(path); err != nil {
				return err
			}
		}
		if err := p.saveCheckpoint(); err != nil {
			return err
		}
		p.log.Debug("leancloud scan page", "class", class, "rows", len(page.Results), "total", st.Rows)
		p.progress()
		if st.Done {
			p.log.Info("leancloud scan done", "class", class, "rows", st.Rows)
			return nil
		}
	}
}

// --- history ---

type pullConv struct{ id, kind string }

// conversations reads the saved _Conversation rows back, as the import
// will.
func (p *puller) conversations() ([]pullConv, error) {
	r, err := Open(filepath.Join(p.opt.Dir, ConversationFile))
	if err != nil {
		return nil, fmt.Errorf("leancloud: pull: %w", err)
	}
	defer r.Close()
	var out []pullConv
	seen := map[string]bool{}
	p.stats.Unreadable = 0
	err = ReadConversations(r, func(_ Position, c Conversation) error {
		if !seen[c.ID] {
			seen[c.ID] = true
			out = append(out, pullConv{c.ID, c.Kind})
		}
		return nil
	}, func(s *Skipped) {
		p.stats.Unreadable++
		p.log.Warn("leancloud conversation unreadable, its history is not pulled", "at", s.Pos.String(), "reason", s.Reason)
	})
	if err != nil {
		return nil, fmt.Errorf("leancloud: pull: %w", err)
	}
	return out, nil
}

// historyPath is the history endpoint of a conversation of kind.
func historyPath(id, kind string) string {
	prefix := "/1.2/rtm/conversations/"
	switch kind {
	case KindChatRoom:
		prefix = "/1.2/rtm/chatrooms/"
	case KindSystem:
		prefix = "/1.2/rtm/service-conversations/"
	}
	return prefix + url.PathEscape(id) + "/messages"
}

// HistoryFile is the name of page n of a conversation's saved history,
// in Dir/messages.
func HistoryFile(convID string, n int) string {
	return fileSafe(convID) + "." + strconv.Itoa(n) + ".json"
}

// fileSafe spells s with letters, digits, '-' and '_' only, each other
// byte as %XX: distinct ids stay distinct names, on any file system that
// tells case apart.
func fileSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// history pages the messages of c, conversation Next, newest first, from
// where the checkpoint says it got; each page is saved as returned. The
// checkpoint saved with the last page counts c complete.
func (p *puller) history(ctx context.Context, c pullConv) error {
	h := &p.cp.History
	st := &h.Current
	st.ID = c.id
	// done moves on to the next conversation and saves the checkpoint.
	done := func(missing bool) error {
		h.Next++
		h.Messages += st.Messages
		if missing {
			h.Missing++
		}
		h.Current = historyState{}
		return p.saveCheckpoint()
	}
	path := historyPath(c.id, c.kind)
	for {
		q := url.Values{"limit": {strconv.Itoa(p.opt.Limit)}}
		if st.Pages > 0 {
			// The next older page: before the last record saved
			// (include_start is false by default).
			q.Set("timestamp", strconv.FormatInt(st.Timestamp, 10))
			q.Set("msgid", st.MsgID)
		}
		body, err := p.get(ctx, path, q)
		var apiErr *APIError
		if errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Code == 4401 || apiErr.Code == 4303) {
			// Deleted on LeanCloud (e.g. 6 months without a message):
			// nothing to save, and no reason to stop the others.
			p.log.Warn("leancloud conversation has no history", "conversation", c.id, "err", err)
			if err := done(true); err != nil {
				return err
			}
			p.progress()
			return nil
		}
		if err != nil {
			return err
		}
		var recs []json.RawMessage
		if err := json.Unmarshal(body, &recs); err != nil {
			return fmt.Errorf("leancloud: pull: history of %s: answer is not a JSON array: %v", c.id, err)
		}
		file := ""
		if len(recs) > 0 {
			var last struct {
				Timestamp json.RawMessage `json:"timestamp"`
				MsgID     string          `json:"msg-id"`
			}
			if err := json.Unmarshal(recs[len(recs)-1], &last); err != nil {
				return fmt.Errorf("leancloud: pull: history of %s: last record: %v", c.id, err)
			}
			if last.MsgID == "" || len(last.Timestamp) == 0 {
				return fmt.Errorf("leancloud: pull: history of %s: last record has no \"msg-id\" or \"timestamp\": cannot page on", c.id)
			}
			ts, err := wholeNumber(last.Timestamp)
			if err != nil {
				return fmt.Errorf("leancloud: pull: history of %s: last record's \"timestamp\" %s: %v", c.id, last.Timestamp, err)
			}
			if st.Pages > 0 && ts == st.Timestamp && last.MsgID == st.MsgID {
				return fmt.Errorf("leancloud: pull: history of %s: page before (%d, %s) ends with that record again", c.id, ts, last.MsgID)
			}
			file = filepath.Join(p.opt.Dir, MessagesDir, HistoryFile(c.id, st.Pages))
			if err := writeFileAtomic(file, body); err != nil {
				return err
			}
			st.Pages++
			st.Messages += len(recs)
			st.Timestamp, st.MsgID = ts, last.MsgID
			p.stats.Pages++
		}
		if file != "" && p.opt.afterPage != nil {
			if err := p.opt.afterPage(file); err != nil {
				return err
			}
		}
		p.log.Debug("leancloud history page", "conversation", c.id, "records", len(recs), "pages", st.Pages)
		if len(recs) < p.opt.Limit {
			// A page written by a run that stopped before its checkpoint,
			// and now found empty (messages deleted meanwhile), goes.
			stale := filepath.Join(p.opt.Dir, MessagesDir, HistoryFile(c.id, st.Pages))
			if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("leancloud: pull: %w", err)
			}
			if err := done(false); err != nil {
				return err
			}
			p.progress()
			return nil
		}
		if err := p.saveCheckpoint(); err != nil {
			return err
		}
		p.progress()
	}
}

// --- requests ---

// wait keeps the requests RatePerMinute apart.
func (p *puller) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.interval == 0 {
		return nil
	}
	now := p.opt.now()
	if d := p.next.Sub(now); d > 0 {
		if err := p.opt.sleep(ctx, d); err != nil {
			return err
		}
		now = p.next
	}
	p.next = now.Add(p.interval)
	return nil
}

// get GETs path?q with the master key and returns a 2xx answer's body,
// retrying what may pass.
func (p *puller) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var last error
	var retryAfter time.Duration
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if attempt > p.opt.Retries {
				return nil, fmt.Errorf("leancloud: GET %s: gave up after %d attempts: %w", target, attempt, last)
			}
			d := p.opt.Backoff << (attempt - 1)
			if d > time.Minute || d <= 0 {
				d = time.Minute
			}
			if retryAfter > d {
				d = retryAfter
			}
			p.stats.Retries++
			p.log.Warn("leancloud request failed, retrying", "path", target, "attempt", attempt, "wait", d, "err", last)
			if err := p.opt.sleep(ctx, d); err != nil {
				return nil, err
			}
		}
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+target, nil)
		if err != nil {
			return nil, fmt.Errorf("leancloud: GET %s: %w", target, err)
		}
		req.Header.Set("X-LC-Id", p.opt.AppID)
		req.Header.Set("X-LC-Key", p.opt.MasterKey+",master")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "parley-import-leancloud")
		p.stats.Requests++
		resp, err := p.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last, retryAfter = err, 0
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPullBody+1))
		resp.Body.Close()
		if err == nil && len(body) > maxPullBody {
			err = fmt.Errorf("answer larger than %d bytes", maxPullBody)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last, retryAfter = fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err), 0
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if !json.Valid(body) {
				last, retryAfter = fmt.Errorf("HTTP %d with a body that is not JSON", resp.StatusCode), 0
				continue
			}
			return body, nil
		}
		apiErr := &APIError{Method: http.MethodGet, Path: target, Status: resp.StatusCode}
		var eb struct {
			Code  int    `json:"code"`
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil && (eb.Code != 0 || eb.Error != "") {
			apiErr.Code, apiErr.Message = eb.Code, eb.Error
		} else {
			apiErr.Message = strings.TrimSpace(string(body))
			if len(apiErr.Message) > 200 {
				apiErr.Message = apiErr.Message[:200] + "…"
			}
			if apiErr.Message == "" {
				apiErr.Message = http.StatusText(resp.StatusCode)
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			last, retryAfter = apiErr, p.retryAfter(resp.Header.Get("Retry-After"))
			continue
		}
		return nil, apiErr
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func (p *puller) retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(s) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(p.opt.now())
	}
	if d < 0 {
		return 0
	}
	if d > maxRetryAfter {
		return maxRetryAfter
	}
	return d
}
