package leancloud

// A local fake of the parts of LeanCloud's REST API a pull uses: the Scan
// API and the history endpoints of the three kinds of conversation, with
// LeanCloud's auth headers and {code, error} bodies, and faults on demand.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeMsg struct {
	ts  int64
	id  string
	raw string // the record as served
}

type fakeLC struct {
	t         *testing.T
	srv       *httptest.Server
	appID     string
	masterKey string
	scanPage  int // most rows per Scan page, whatever the limit
	cursorGen int // cursors of other generations are refused (expired)

	classes map[string][]string   // class → rows (raw JSON) in scan order
	kinds   map[string]string     // conversation id → "conversations", "chatrooms", "service-conversations"
	msgs    map[string][]*fakeMsg // conversation id → newest first

	mu        sync.Mutex
	n         int               // requests so far
	faults    bool              // 429, 503 and dropped connections now and then
	onRequest func(n int) bool  // true: the request hangs until the client gives up
	requests  []string          // path?query of each request answered 200
	history   map[string]string // last history query per conversation (for checks)
}

func newFakeLC(t *testing.T) *fakeLC {
	f := &fakeLC{t: t, appID: "fakeAppId-gzGzoHsz", masterKey: "fakeMasterKey", scanPage: 3,
		classes: map[string][]string{}, kinds: map[string]string{}, msgs: map[string][]*fakeMsg{},
		history: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// addConv adds a conversation row and n messages, several sharing a
// timestamp so that pages break inside a millisecond.
func (f *fakeLC) addConv(id, kind string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	row := map[string]any{"objectId": id, "name": "conv " + id + " “引号” \u2028",
		"c": "alice", "m": []string{"alice", "bob"}, "createdAt": "2025-01-02T03:04:05.678Z",
		"updatedAt": "2025-06-01T00:00:00.000Z", "lm": map[string]string{"__type": "Date", "iso": "2025-06-01T00:00:00.000Z"},
		"attr": map[string]any{"k": []int{1, 2}}, "ACL": map[string]any{"*": map[string]bool{"read": true}}}
	path := "conversations"
	switch kind {
	case KindChatRoom:
		row["tr"], path = true, "chatrooms"
		delete(row, "m")
	case KindSystem:
		row["sys"], path = true, "service-conversations"
		delete(row, "m")
	}
	b, _ := json.Marshal(row)
	f.classes["_Conversation"] = append(f.classes["_Conversation"], string(b))
	var ms []*fakeMsg
	for i := 0; i < n; i++ {
		ts := int64(1700000000000 + (i/3)*1000) // three per millisecond
		mid := fmt.Sprintf("m%d+%04d_x", len(f.kinds), i)
		rec := map[string]any{"timestamp": ts, "conv-id": id, "data": fmt.Sprintf(`{"_lctype":-1,"_lctext":"hello %d"}`, i),
			"from": "alice", "msg-id": mid, "is-conv": true, "is-room": false, "to": id, "bin": false, "from-ip": "10.0.0.1"}
		if i%4 == 0 {
			rec["ack-at"] = ts + 5
		}
		if i%5 == 1 {
			rec["bin"], rec["data"] = true, "aGVsbG8="
		}
		b, _ := json.Marshal(rec)
		ms = append(ms, &fakeMsg{ts, mid, string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return after(ms[i], ms[j].ts, ms[j].id) })
	f.msgs[id] = ms
	f.kinds[id] = path
}

// set changes the fake under its lock.
func (f *fakeLC) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// after: m is newer than (ts, id).
func after(m *fakeMsg, ts int64, id string) bool {
	return m.ts > ts || m.ts == ts && m.id > id
}

func (f *fakeLC) addMemberInfo(cid, client, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"objectId": fmt.Sprintf("mi%03d", len(f.classes["_ConversationMemberInfo"])),
		"cid": cid, "clientId": client, "role": role, "createdAt": "2025-01-02T03:04:05.678Z", "updatedAt": "2025-01-02T03:04:05.678Z"})
	f.classes["_ConversationMemberInfo"] = append(f.classes["_ConversationMemberInfo"], string(b))
}

func fakeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "error": msg})
}

func (f *fakeLC) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	hook, faults := f.onRequest, f.faults
	if hook != nil && hook(n) {
		f.mu.Unlock()
		// The client is being cancelled: answer nothing until it is gone.
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
			f.t.Error("fake: the client did not give up")
		}
		return
	}
	defer f.mu.Unlock()
	if faults {
		switch {
		case n%5 == 2:
			w.Header().Set("Retry-After", "7")
			fakeError(w, http.StatusTooManyRequests, 429, "Too many requests.")
			return
		case n%7 == 3:
			fakeError(w, http.StatusServiceUnavailable, 503, "Service unavailable.")
			return
		case n%11 == 5:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
	}
	if r.Method != http.MethodGet {
		fakeError(w, http.StatusMethodNotAllowed, 1, "method")
		return
	}
	if r.Header.Get("X-LC-Id") != f.appID || r.Header.Get("X-LC-Key") != f.masterKey+",master" {
		fakeError(w, http.StatusUnauthorized, 401, "Unauthorized.")
		return
	}
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			fakeError(w, http.StatusBadRequest, 1, "bad limit")
			return
		}
	}
	path := r.URL.EscapedPath()
	var body any
	if class, ok := strings.CutPrefix(path, "/1.1/scan/classes/"); ok {
		rows, ok := f.classes[class]
		if !ok {
			fakeError(w, http.StatusNotFound, 101, "Class or object doesn't exists.")
			return
		}
		start := 0
		if c := q.Get("cursor"); c != "" {
			gen, s, _ := strings.Cut(c, "-")
			if gen != "cur"+strconv.Itoa(f.cursorGen) {
				fakeError(w, http.StatusBadRequest, 1, "cursor expired")
				return
			}
			var err error
			if start, err = strconv.Atoi(s); err != nil || start > len(rows) {
				fakeError(w, http.StatusBadRequest, 1, "bad cursor")
				return
			}
		}
		end := min(start+limit, start+f.scanPage, len(rows))
		results := []json.RawMessage{}
		for _, row := range rows[start:end] {
			results = append(results, json.RawMessage(row))
		}
		var cursor *string
		if end < len(rows) {
			c := "cur" + strconv.Itoa(f.cursorGen) + "-" + strconv.Itoa(end)
			cursor = &c
		}
		body = map[string]any{"results": results, "cursor": cursor}
	} else if rest, ok := strings.CutPrefix(path, "/1.2/rtm/"); ok && strings.HasSuffix(rest, "/messages") {
		kind, id, _ := strings.Cut(strings.TrimSuffix(rest, "/messages"), "/")
		id, _ = url.PathUnescape(id)
		if f.kinds[id] == "" || f.kinds[id] != kind {
			fakeError(w, http.StatusNotFound, 4401, "INVALID_MESSAGING_TARGET")
			return
		}
		ts, mid := int64(1<<62), q.Get("msgid")
		if s := q.Get("timestamp"); s != "" {
			var err error
			if ts, err = strconv.ParseInt(s, 10, 64); err != nil {
				fakeError(w, http.StatusBadRequest, 1, "bad timestamp")
				return
			}
		} else if mid != "" {
			fakeError(w, http.StatusBadRequest, 1, "msgid needs timestamp")
			return
		}
		if mid == "" {
			mid = "\xff"
		}
		page := []json.RawMessage{}
		for _, m := range f.msgs[id] {
			if len(page) == limit {
				break
			}
			if !after(m, ts, mid) && !(m.ts == ts && m.id == mid) {
				page = append(page, json.RawMessage(m.raw))
			}
		}
		f.history[id] = r.URL.RawQuery
		body = page
	} else {
		fakeError(w, http.StatusNotFound, 404, "not found: "+path)
		return
	}
	f.requests = append(f.requests, r.URL.RequestURI())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}
