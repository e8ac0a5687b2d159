package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/openapi/client"
)

// frame is one Server-Sent-Events frame as a browser's EventSource parses
// it, or one comment line (heartbeats).
type frame struct {
	ID, Event, Data string
	Retry           string // the retry: field, when the frame had one
	HasID           bool
	Comment         string // set, alone, for a comment line
}

// Event data, as the OpenAPI document names it (x-parley-events).
type (
	helloData struct {
		SessionID  string `json:"sessionId"`
		ClientID   string `json:"clientId"`
		ServerTime int64  `json:"serverTime"`
		Resumed    bool   `json:"resumed"`
	}
	messageData struct {
		ConversationID string         `json:"conversationId"`
		Message        client.Message `json:"message"`
		Mentioned      bool           `json:"mentioned"`
		Offline        bool           `json:"offline"`
	}
	invitedData struct {
		ConversationID string `json:"conversationId"`
		InvitedBy      string `json:"invitedBy"`
	}
	kickedData struct {
		ConversationID string `json:"conversationId"`
		KickedBy       string `json:"kickedBy"`
	}
	membersJoinedData struct {
		ConversationID string   `json:"conversationId"`
		Members        []string `json:"members"`
		InvitedBy      string   `json:"invitedBy"`
	}
	membersLeftData struct {
		ConversationID string   `json:"conversationId"`
		Members        []string `json:"members"`
		KickedBy       string   `json:"kickedBy"`
	}
	reasonData struct {
		Reason string `json:"reason"`
	}
)

// stream is an open event stream read from a real socket. A goroutine parses
// frames into a channel; the test goroutine takes them with a timeout.
type stream struct {
	t      *testing.T
	name   string
	resp   *http.Response
	cancel context.CancelFunc
	frames chan frame
	ended  chan struct{} // closed once the reader stopped; err is then set
	quit   chan struct{}
	err    error

	Hello   helloData
	HelloID string
	Retry   string

	lastSeq uint64
	epoch   string
	lastID  string // id of the last event taken

	// keepUnread makes next return unreadmessagescountupdate events too;
	// by default they are checked and passed over.
	keepUnread bool
}

// streamOpt tunes how a stream is opened.
type streamOpt func(*http.Request)

// lastEventHeader resumes with the Last-Event-ID header.
func lastEventHeader(id string) streamOpt {
	return func(r *http.Request) { r.Header.Set("Last-Event-ID", id) }
}

// lastEventQuery resumes with ?lastEventId= (for clients without headers).
func lastEventQuery(id string) streamOpt {
	return func(r *http.Request) { addQuery(r, "lastEventId", id) }
}

// tokenQuery authenticates with ?token= instead of the header.
func tokenQuery() streamOpt {
	return func(r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		r.Header.Del("Authorization")
		addQuery(r, "token", tok)
	}
}

func addQuery(r *http.Request, k, v string) {
	q := r.URL.Query()
	q.Set(k, v)
	r.URL.RawQuery = q.Encode()
}

// sseClient has its own transport, so that closing a stream's connection
// never disturbs the REST client's pool.
var sseClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// dialEvents sends GET /v1/events with the given headers and returns the raw
// response (any status). The request lives until cancel is called.
func dialEvents(t *testing.T, base string, header http.Header, opts ...streamOpt) (*http.Response, context.CancelFunc) {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(c, http.MethodGet, base+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	// Browsers ask for compression; a stream must not be compressed anyway.
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	for _, o := range opts {
		o(req)
	}
	resp, err := sseClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /v1/events: %v", err)
	}
	return resp, cancel
}

// open opens this session's event stream, expects 200 and reads the hello
// event (and its retry: field).
func (u *user) open(opts ...streamOpt) *stream {
	u.h.t.Helper()
	t := u.h.t
	resp, cancel := dialEvents(t, u.h.base, http.Header{"Authorization": {"Bearer " + u.Token}}, opts...)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("%s opens the stream: %d %s", u.ClientId, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("stream Content-Type %q", ct)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		t.Errorf("the stream is compressed (%s)", ce)
	}
	s := &stream{
		t: t, name: u.ClientId, resp: resp, cancel: cancel,
		frames: make(chan frame, 256), ended: make(chan struct{}), quit: make(chan struct{}),
	}
	go s.read()
	t.Cleanup(s.close)

	f := s.nextFrame()
	if f.Event != "hello" {
		t.Fatalf("%s: the stream starts with %q, want hello", s.name, f.Event)
	}
	if !f.HasID || f.ID == "" {
		t.Fatalf("%s: hello without an id", s.name)
	}
	s.Retry = f.Retry
	if ms, err := strconv.Atoi(f.Retry); err != nil || ms <= 0 || ms > 3000 {
		t.Errorf("%s: retry: %q, want a positive number of ms, at most 3000", s.name, f.Retry)
	}
	s.Hello = decode[helloData](t, f)
	if s.Hello.SessionID != u.SessionId || s.Hello.ClientID != u.ClientId || s.Hello.ServerTime <= 0 {
		t.Errorf("%s: hello %+v does not name the session %s", s.name, s.Hello, u.SessionId)
	}
	s.HelloID = f.ID
	s.epoch, s.lastSeq = parseEventID(t, f.ID)
	s.lastID = f.ID
	return s
}

func parseEventID(t *testing.T, id string) (string, uint64) {
	t.Helper()
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		t.Fatalf("event id %q is not epoch.seq", id)
	}
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("event id %q: %v", id, err)
	}
	return id[:i], n
}

// read parses the response body into frames until it ends.
func (s *stream) read() {
	defer close(s.ended)
	defer close(s.frames)
	br := bufio.NewReader(s.resp.Body)
	var f frame
	var has bool
	emit := func(x frame) bool {
		select {
		case s.frames <- x:
			return true
		case <-s.quit:
			return false
		}
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF // a frame cut in the middle
			}
			s.err = err
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if has && (f.Event != "" || f.Data != "") {
				if !emit(f) {
					return
				}
			}
			f, has = frame{}, false
		case strings.HasPrefix(line, ":"):
			if !emit(frame{Comment: strings.TrimSpace(line[1:])}) {
				return
			}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			has = true
			switch field {
			case "id":
				f.ID, f.HasID = value, true
			case "event":
				f.Event = value
			case "data":
				if f.Data != "" {
					f.Data += "\n"
				}
				f.Data += value
			case "retry":
				f.Retry = value
			}
		}
	}
}

// nextFrame returns the next frame that is not a comment, failing the test
// when none comes within waitTimeout or the stream ends first.
func (s *stream) nextFrame() frame {
	s.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("%s: the stream ended (%v) while an event was expected", s.name, s.err)
			}
			if f.Comment != "" {
				continue
			}
			return f
		case <-timer.C:
			s.t.Fatalf("%s: no event within %s", s.name, waitTimeout)
		}
	}
}

// next returns the next event and checks its id: the same epoch, and the
// sequence number right after the previous event's (no gap, no duplicate).
// Unread-count updates, which follow every message to a member, are checked
// and passed over unless the stream keeps them (keepUnread).
func (s *stream) next() frame {
	s.t.Helper()
	for {
		f := s.nextFrame()
		if !f.HasID {
			s.t.Fatalf("%s: %s event without an id", s.name, f.Event)
		}
		epoch, seq := parseEventID(s.t, f.ID)
		if epoch != s.epoch {
			s.t.Errorf("%s: %s event id %q is from another epoch than %q", s.name, f.Event, f.ID, s.epoch)
		}
		if f.Event != "reset" && seq != s.lastSeq+1 {
			s.t.Errorf("%s: %s event id %q follows %q: gap or duplicate", s.name, f.Event, f.ID, s.lastID)
		}
		s.lastSeq, s.lastID = seq, f.ID
		if f.Event == unreadEvent && !s.keepUnread {
			continue
		}
		return f
	}
}

// unreadEvent is the event of unread counts, which streams pass over unless
// they keepUnread.
const unreadEvent = "unreadmessagescountupdate"

// passOver reports whether f is an unread-count update the stream passes
// over; if so its id is checked and taken as next does.
func (s *stream) passOver(f frame) bool {
	s.t.Helper()
	if f.Event != unreadEvent || s.keepUnread {
		return false
	}
	epoch, seq := parseEventID(s.t, f.ID)
	if epoch != s.epoch || seq != s.lastSeq+1 {
		s.t.Errorf("%s: %s event id %q follows %q: gap or duplicate", s.name, f.Event, f.ID, s.lastID)
	}
	s.lastSeq, s.lastID = seq, f.ID
	return true
}

// expect takes the next event and checks its name.
func (s *stream) expect(event string) frame {
	s.t.Helper()
	f := s.next()
	if f.Event != event {
		s.t.Fatalf("%s: got %s event %s, want %s", s.name, f.Event, f.Data, event)
	}
	return f
}

// expectMessage takes the next event, which must be a message, and returns it.
func (s *stream) expectMessage() messageData {
	s.t.Helper()
	return decode[messageData](s.t, s.expect("message"))
}

// expectText takes the next event, which must be the text message text.
func (s *stream) expectText(text string) messageData {
	s.t.Helper()
	m := s.expectMessage()
	if deref(m.Message.Text) != text {
		s.t.Fatalf("%s: got message %q, want %q", s.name, deref(m.Message.Text), text)
	}
	return m
}

// expectJoined takes the next event, which must be membersjoined in convID
// listing members (in any order), invited by invitedBy: what every member
// gets when members are added, and when a conversation is created with
// them.
func (s *stream) expectJoined(convID, invitedBy string, members ...string) membersJoinedData {
	s.t.Helper()
	d := decode[membersJoinedData](s.t, s.expect("membersjoined"))
	if d.ConversationID != convID || d.InvitedBy != invitedBy || !sameSet(d.Members, members) {
		s.t.Errorf("%s: membersjoined %+v, want %v in %s invited by %q", s.name, d, members, convID, invitedBy)
	}
	return d
}

// waitComment waits for a comment line (a heartbeat).
func (s *stream) waitComment() string {
	s.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("%s: the stream ended (%v) while a heartbeat was expected", s.name, s.err)
			}
			if f.Comment != "" {
				return f.Comment
			}
			if s.passOver(f) {
				continue
			}
			s.t.Fatalf("%s: got %s event while a heartbeat was expected", s.name, f.Event)
		case <-timer.C:
			s.t.Fatalf("%s: no heartbeat within %s", s.name, waitTimeout)
		}
	}
}

// expectEOF waits for the stream to end cleanly: no further event, and the
// body ends with a proper EOF rather than a broken connection.
func (s *stream) expectEOF() {
	s.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				if !errors.Is(s.err, io.EOF) {
					s.t.Fatalf("%s: the stream ended with %v, want a clean EOF", s.name, s.err)
				}
				return
			}
			if f.Comment == "" && !s.passOver(f) {
				s.t.Fatalf("%s: got %s event %s, want the end of the stream", s.name, f.Event, f.Data)
			}
		case <-timer.C:
			s.t.Fatalf("%s: the stream did not end within %s", s.name, waitTimeout)
		}
	}
}

// untilEOF takes the events left until the stream ends cleanly, checking
// their ids as next does, and returns them.
func (s *stream) untilEOF() []frame {
	s.t.Helper()
	var got []frame
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				if !errors.Is(s.err, io.EOF) {
					s.t.Fatalf("%s: the stream ended with %v, want a clean EOF", s.name, s.err)
				}
				return got
			}
			if f.Comment != "" {
				continue
			}
			epoch, seq := parseEventID(s.t, f.ID)
			if epoch != s.epoch || seq != s.lastSeq+1 {
				s.t.Errorf("%s: %s event id %q follows %q: gap or duplicate", s.name, f.Event, f.ID, s.lastID)
			}
			s.lastSeq, s.lastID = seq, f.ID
			if f.Event == unreadEvent && !s.keepUnread {
				continue
			}
			got = append(got, f)
		case <-timer.C:
			s.t.Fatalf("%s: the stream did not end within %s", s.name, waitTimeout)
		}
	}
}

// close drops the connection, as a client going away does.
func (s *stream) close() {
	select {
	case <-s.quit:
		return
	default:
	}
	close(s.quit)
	s.cancel()
	s.resp.Body.Close()
	<-s.ended
}

func decode[T any](t *testing.T, f frame) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(f.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s event data %s: %v", f.Event, f.Data, err)
	}
	if strings.Contains(f.Data, "\n") {
		t.Errorf("%s event data spans several lines: %q", f.Event, f.Data)
	}
	return v
}
