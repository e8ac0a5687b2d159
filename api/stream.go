package api

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/handlers"
)

// writeTimeout bounds one write to a stream: a peer that stops reading is
// disconnected instead of holding its goroutine forever.
const writeTimeout = 10 * time.Second

// coalesceWindow is how long a busy stream gathers events before writing.
const coalesceWindow = 2 * time.Millisecond

type eventsInput struct {
	Token           string `query:"token" doc:"Session token, for clients that cannot set headers (EventSource)"`
	LastEventID     string `header:"Last-Event-ID" doc:"Resume after this event id"`
	LastEventIDForm string `query:"lastEventId" doc:"Resume after this event id (for clients that cannot set headers)"`
}

func (s *Server) registerEventStream() {
	op := huma.Operation{
		OperationID: "openEventStream", Method: http.MethodGet, Path: "/v1/events",
		Summary: "Open the session's event stream", Tags: []string{tagEvents},
		Security: sessionOnly, Metadata: map[string]any{queryTokenOK: true},
		Description: eventStreamDescription,
		Responses: map[string]*huma.Response{
			"200": {Description: "A text/event-stream of the events below; each frame has id:, event: and data: (one line of JSON)."},
		},
	}
	register(s, op, []handlers.Code{handlers.CodeForbidden, handlers.CodeRateLimited, codeUnavailable}, s.openEventStream)
}

func (s *Server) openEventStream(ctx context.Context, in *eventsInput) (*huma.StreamResponse, error) {
	p := principal(ctx)
	if p.SessionID == "" {
		return nil, &handlers.Error{Code: handlers.CodeForbidden, Detail: "an event stream belongs to a session: log in"}
	}
	last := in.LastEventID
	if last == "" {
		last = in.LastEventIDForm
	}
	st, hello, err := s.opt.Hub.Attach(p.SessionID, p.ClientID, last)
	switch {
	case errors.Is(err, events.ErrShutdown):
		return nil, newProblem(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down; reconnect")
	case errors.Is(err, events.ErrTooManyStreams):
		p := newProblem(http.StatusServiceUnavailable, codeUnavailable, "the server holds as many event streams as it may; retry later")
		p.retryAfter = streamRetry
		return nil, p
	case errors.Is(err, events.ErrClientStreams):
		p := newProblem(http.StatusTooManyRequests, handlers.CodeRateLimited, "this client holds as many event streams as it may: close one (log out a session) or retry later")
		p.retryAfter = streamRetry
		return nil, p
	}
	if err != nil {
		return nil, err
	}
	s.opt.Service.SessionOnline(ctx, p, hello.CameOnline, hello.Returning || last != "")
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humachi.Unwrap(hctx)
		s.serveStream(r, w, st, hello, p)
	}}, nil
}

// streamRetry is the Retry-After of a stream refused for want of room.
const streamRetry = 10 * time.Second

// serveStream takes the connection over from net/http when it can (plain
// HTTP/1.1): the stream then costs one shallow writer goroutine and one
// reader, instead of net/http's connection goroutine, whose stack is as deep
// as the whole handler chain, and its buffers; and a write is one system
// call, without chunked encoding or a second buffer. The body ends when the
// connection closes. Otherwise (HTTP/2, tests' recorders) it writes through
// the ResponseWriter.
func (s *Server) serveStream(r *http.Request, w http.ResponseWriter, st *events.Stream, hello events.Hello, p handlers.Principal) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if rec := recorderOf(w); rec != nil {
		rec.stream = true
	}
	if r.ProtoMajor == 1 && r.ProtoMinor == 1 && s.takeOver(w, st, hello, p) {
		return
	}
	defer st.Close()
	w.WriteHeader(http.StatusOK)
	s.writeStream(&responseOut{w: w, rc: http.NewResponseController(w)}, nil, r.Context().Done(), st, hello, p)
}

// takeOver hijacks the connection and serves the stream on it from a
// goroutine of its own; false: the ResponseWriter must serve it.
func (s *Server) takeOver(w http.ResponseWriter, st *events.Stream, hello events.Hello, p handlers.Principal) bool {
	if !s.streams.add() {
		return false
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.streams.done()
		return false
	}
	// The head goes out with the first frames, in one write.
	head := make([]byte, 0, 512)
	head = append(head, "HTTP/1.1 200 OK\r\nDate: "...)
	head = time.Now().UTC().AppendFormat(head, http.TimeFormat)
	head = append(head, "\r\nConnection: close\r\n"...)
	var hb bytes.Buffer
	w.Header().Write(&hb)
	head = append(append(head, hb.Bytes()...), "\r\n"...)
	conn.SetDeadline(time.Time{}) // the server's header timeout no longer applies
	finished := func() {}
	if rec := recorderOf(w); rec != nil {
		finished = rec.detach()
	}
	out := &connOut{conn: conn, st: st, clientID: p.ClientID}
	if sc, ok := conn.(syscall.Conn); ok {
		if out.raw, err = sc.SyscallConn(); err == nil {
			st.SetWriter(out.writeDirect)
		}
	}
	go func() {
		defer s.streams.done()
		defer finished() // the access log and metrics, once the connection is closed
		defer conn.Close()
		defer st.Close()
		s.writeStream(out, head, watchPeer(conn), st, hello, p)
	}()
	return true
}

// watchPeer reads the taken-over connection until the peer closes it (a
// client sends nothing more on an event stream) and then closes gone.
func watchPeer(conn net.Conn) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		var b [64]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				return
			}
		}
	}()
	return gone
}

// streamSet counts the taken-over streams still writing. Once it is waited
// for, it takes no more: a stream that comes in the middle of a shutdown
// stays with net/http, whose shutdown waits for it.
type streamSet struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (ss *streamSet) add() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	ss.wg.Add(1)
	return true
}

func (ss *streamSet) done() { ss.wg.Done() }

// WaitStreams waits until every taken-over stream has written its last
// frames and closed its connection (after the hub closed them), or ctx ends.
func (s *Server) WaitStreams(ctx context.Context) error {
	s.streams.mu.Lock()
	s.streams.closed = true
	s.streams.mu.Unlock()
	done := make(chan struct{})
	go func() { s.streams.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeStream is the one goroutine that writes to this stream's connection.
// It sleeps until the hub signals events, a heartbeat is due, the peer goes
// away (gone) or the stream is ended. head, if any, precedes the first frames.
func (s *Server) writeStream(out streamWriter, head []byte, gone <-chan struct{}, st *events.Stream, hello events.Hello, p handlers.Principal) {
	buf := append(head, "retry: "...)
	buf = strconv.AppendInt(buf, s.opt.Retry.Milliseconds(), 10)
	buf = append(buf, '\n')
	buf = appendFrame(buf, hello.ID, events.MustNew(events.NameHello, handlers.HelloEvent{
		SessionID: p.SessionID, ClientID: p.ClientID, ServerTime: time.Now().UnixMilli(), Resumed: hello.Resumed,
	}))
	if hello.Reset {
		buf = appendFrame(buf, hello.ID, events.MustNew(events.NameReset, handlers.ReasonEvent{Reason: hello.ResetReason}))
	}
	if !out.flush(buf) {
		return
	}
	if !hello.Resumed {
		// A fresh stream starts with the unread summary (or the offline
		// messages); they go through the session's log like any event. The
		// queries run on their own goroutine so that this one, which stays
		// for the life of the stream, keeps a small stack.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.opt.Service.StreamOpened(ctx, p); err != nil && !s.opt.Service.ShuttingDown() {
				s.opt.Log.Error("open stream", "session", p.SessionID, "err", err)
			}
		}()
	}

	var lastWrite time.Time
	beat := time.NewTicker(s.opt.Heartbeat)
	defer beat.Stop()
	var items []events.Item
	buf = make([]byte, 0, 512) // grows under load; see the end of the loop
	for {
		buf = buf[:0]
		take := false
		select {
		case <-gone:
			return
		case <-beat.C:
			buf = append(buf, ": ping\n\n"...)
		case <-st.Wake():
			// Under load, gather what arrives within coalesceWindow of the
			// last write into one write: fewer syscalls per event, at most
			// the window in added latency; an idle stream writes at once.
			if since := time.Since(lastWrite); since < coalesceWindow {
				time.Sleep(coalesceWindow - since)
			}
			take = true
		}
		out.Lock() // events are taken and written in one go: they keep their order
		var err error
		if take {
			items, err = st.Take(items[:0], 512)
			for _, it := range items {
				buf = appendItem(buf, st.Epoch(), it)
			}
			if errors.Is(err, events.ErrSlowConsumer) {
				buf = appendItem(buf, st.Epoch(), events.Item{Seq: st.SkipToEnd(), Event: events.MustNew(events.NameReset, handlers.ReasonEvent{Reason: "slow consumer: the stream fell too far behind"})})
			}
		}
		ok := out.flush(buf)
		out.Unlock()
		if err != nil || !ok {
			return
		}
		lastWrite = time.Now()
		written(items, p.ClientID)
		clear(items) // let written events be collected
		items = items[:0]
		if cap(buf) > 64<<10 {
			buf = make([]byte, 0, 512) // a burst is over: an idle stream holds little
		}
	}
}

func appendItem(buf []byte, epoch string, it events.Item) []byte {
	buf = append(buf, "id: "...)
	buf = events.AppendID(buf, epoch, it.Seq)
	buf = append(buf, '\n')
	return append(buf, it.Event.Frame()...)
}

func appendFrame(buf []byte, id string, ev *events.Event) []byte {
	buf = append(buf, "id: "...)
	buf = append(buf, id...)
	buf = append(buf, '\n')
	return append(buf, ev.Frame()...)
}

// streamWriter writes a stream's frames to its peer. The stream's goroutine
// holds its lock while it takes events and writes them.
type streamWriter interface {
	sync.Locker
	// flush writes buf and pushes it to the peer; false: the peer is gone.
	flush(buf []byte) bool
}

// Every write must finish within writeTimeout; the deadline is moved only
// once half of it is used, not on every write (setting it costs as much as a
// small write).
type writeDeadline time.Time

func (d *writeDeadline) due() (time.Time, bool) {
	now := time.Now()
	if time.Time(*d).Sub(now) >= writeTimeout/2 {
		return time.Time{}, false
	}
	*d = writeDeadline(now.Add(writeTimeout))
	return time.Time(*d), true
}

// connOut writes to a taken-over connection: one write(2) per flush. Besides
// the stream's goroutine, the hub's workers write to it (writeDirect), so
// that a message to thousands of streams does not wake thousands of
// goroutines.
type connOut struct {
	sync.Mutex
	conn     net.Conn
	raw      syscall.RawConn
	st       *events.Stream
	clientID string
	deadline writeDeadline
	pending  []byte        // written by a worker only in part: the rest goes first
	unsent   []events.Item // the events in pending that wait to be reported written
}

func (o *connOut) flush(buf []byte) bool {
	if len(o.pending) > 0 {
		buf = append(o.pending, buf...)
		o.pending = nil
	}
	if t, ok := o.deadline.due(); ok {
		o.conn.SetWriteDeadline(t)
	}
	if len(buf) == 0 {
		return true
	}
	if _, err := o.conn.Write(buf); err != nil {
		return false
	}
	written(o.unsent, o.clientID)
	o.unsent = nil
	return true
}

// directTake bounds the events one worker write carries.
const directTake = 256

// writeDirect is the stream's events.Writer. It never waits: when the
// stream's goroutine is busy with the connection, the stream must end, or
// the socket takes only part of the write, it leaves the rest to that
// goroutine.
func (o *connOut) writeDirect(scratch *events.Scratch) {
	if !o.TryLock() {
		o.st.Notify()
		return
	}
	defer o.Unlock()
	if len(o.pending) > 0 {
		o.st.Notify()
		return
	}
	items, ok := o.st.TakeDirect(scratch.Items[:0], directTake)
	defer func() { clear(items); scratch.Items = items[:0] }()
	if !ok {
		o.st.Notify()
		return
	}
	if len(items) == directTake {
		o.st.Notify() // there may be more
	}
	if len(items) == 0 {
		return
	}
	buf := scratch.Buf[:0]
	for _, it := range items {
		buf = appendItem(buf, o.st.Epoch(), it)
	}
	scratch.Buf = buf[:0]
	if cap(buf) > 64<<10 {
		scratch.Buf = nil
	}
	// One attempt, on the non-blocking socket: no deadline needed.
	n, werr := 0, error(nil)
	o.raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), buf)
		return true
	})
	n = max(n, 0)
	switch {
	case n == len(buf):
		written(items, o.clientID)
	case werr != nil && werr != syscall.EAGAIN:
		o.conn.Close() // the peer is gone; the stream's goroutine sees it
	default:
		o.pending = append([]byte(nil), buf[n:]...)
		for _, it := range items {
			if it.Event.OnWritten != nil {
				o.unsent = append(o.unsent, it)
			}
		}
		o.st.Notify()
	}
}

// written reports the events to those who wait for their delivery (receipts).
func written(items []events.Item, clientID string) {
	for _, it := range items {
		if it.Event.OnWritten != nil {
			it.Event.OnWritten(clientID)
		}
	}
}

// responseOut writes through net/http's ResponseWriter.
type responseOut struct {
	sync.Mutex
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline writeDeadline
}

func (o *responseOut) flush(buf []byte) bool {
	if t, ok := o.deadline.due(); ok {
		o.rc.SetWriteDeadline(t)
	}
	if len(buf) > 0 {
		if _, err := o.w.Write(buf); err != nil {
			return false
		}
	}
	return o.rc.Flush() == nil
}

// eventTypes documents the stream's events: each one's name, what it
// means, and an example of its data, whose type is the data's schema.
var eventTypes = []struct {
	name    events.Name
	doc     string
	example any
}{
	{events.NameHello, "Opens every stream, in the one frame that carries retry:; its id is where the stream starts.",
		handlers.HelloEvent{SessionID: "0t5bq1m6k3v8a2d4e6g0", ClientID: "Jerry", ServerTime: 1795449600000}},
	{events.NameMessage, "A message in a conversation of the client.",
		handlers.MessageEvent{ConversationID: exampleMessage.ConversationID, Message: &exampleMessage}},
	{events.NameInvited, "The client was added to a conversation by someone else (also on creation).",
		handlers.InvitedEvent{ConversationID: exampleConversation.ID, InvitedBy: "Tom"}},
	{events.NameKicked, "The client was removed from a conversation by someone else.",
		handlers.KickedEvent{ConversationID: exampleConversation.ID, KickedBy: "Tom"}},
	{events.NameMembersJoined, "Members joined a conversation of the client: added (invitedBy who added them), joined themselves, or invited by the conversation's creation (to every member, the creator included).",
		handlers.MembersJoinedEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, InvitedBy: "Tom"}},
	{events.NameMembersLeft, "Members left a conversation of the client.",
		handlers.MembersLeftEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, KickedBy: "Tom"}},
	{events.NameMessageRecall, "A message was recalled; the data carries it without content.",
		handlers.MessageChangeEvent{ConversationID: exampleRecalled.ConversationID, Message: &exampleRecalled}},
	{events.NameMessageUpdate, "A message was edited; the data carries its new content.",
		handlers.MessageChangeEvent{ConversationID: exampleEdited.ConversationID, Message: &exampleEdited}},
	{events.NameInfoUpdated, "A conversation's name or attributes changed (the state after the change).",
		handlers.InfoUpdatedEvent{ConversationID: exampleConversation.ID, Attributes: map[string]any{"topic": "brie"}, Name: "Cheese lovers", UpdatedBy: "Tom"}},
	{events.NameUnreadMessagesCountUpdate, "Unread counts: on a fresh stream, on every new message, and after a read.",
		exampleUnread},
	{events.NameLastDeliveredAtUpdate, "One-to-one (a normal or temporary conversation of two members), to the sender of receipt messages: the other member received messages up to lastDeliveredAt.",
		handlers.LastDeliveredAtEvent{ConversationID: exampleConversation.ID, LastDeliveredAt: 1795449661000}},
	{events.NameLastReadAtUpdate, "One-to-one (a normal or temporary conversation of two members): the other member read up to lastReadAt.",
		handlers.LastReadAtEvent{ConversationID: exampleConversation.ID, ClientID: "Tom", LastReadAt: 1795449662000}},
	{events.NamePresence, "A watched client came online or went offline.",
		events.PresenceEvent{ClientID: "Tom", Online: true}},
	{events.NameConflict, "This session was replaced by a newer login with the same tag; the stream closes.",
		handlers.ReasonEvent{Reason: "a newer login with the same tag replaced this session"}},
	{events.NameReset, "The stream cannot replay what was missed: resynchronise through REST (unread, history).",
		handlers.ReasonEvent{Reason: "events since that id are no longer kept"}},
	{events.NameMemberInfoUpdated, "A member's role changed (to every member).",
		handlers.MemberInfoEvent{ConversationID: exampleConversation.ID, Member: "Jerry", Role: handlers.RoleManager, UpdatedBy: "Tom"}},
	{events.NameMembersMuted, "Members were silenced (to the other members).",
		handlers.MembersActionEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, By: "Tom"}},
	{events.NameMembersUnmuted, "Members' silence was lifted (to the other members).",
		handlers.MembersActionEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, By: "Tom"}},
	{events.NameMuted, "The client was silenced in a conversation: it may read but not send.",
		handlers.TargetEvent{ConversationID: exampleConversation.ID, By: "Tom"}},
	{events.NameUnmuted, "The client's silence was lifted.",
		handlers.TargetEvent{ConversationID: exampleConversation.ID, By: "Tom"}},
	{events.NameMembersBlocked, "Clients were blocked and removed (to the other members).",
		handlers.MembersActionEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, By: "Tom"}},
	{events.NameMembersUnblocked, "Clients were unblocked (to the other members).",
		handlers.MembersActionEvent{ConversationID: exampleConversation.ID, Members: []string{"Mary"}, By: "Tom"}},
	{events.NameBlocked, "The client was blocked: removed from the conversation and kept out.",
		handlers.TargetEvent{ConversationID: exampleConversation.ID, By: "Tom"}},
	{events.NameUnblocked, "The client was unblocked: it may join or be added again.",
		handlers.TargetEvent{ConversationID: exampleConversation.ID, By: "Tom"}},
}

const eventStreamDescription = `One Server-Sent-Events stream per session; a second stream of the same
session replaces the first. Every frame carries id: (a resume cursor), event: (a name below) and
data: (one line of JSON). The stream starts with retry: and a hello event whose id is where it
starts; a heartbeat comment follows at least every 15 s of silence.

Resume: reconnect with Last-Event-ID (header, or ?lastEventId=) to replay every event after that
id, in order, with no gap and no duplicate (the last 5 minutes / 10,000 events of the session are
kept). When that is no longer possible the stream sends reset after hello; the client then
resynchronises through REST. A stream that falls too far behind gets reset and is closed.

Authenticate with Authorization: Bearer <token>, or ?token= (browsers' EventSource cannot set
headers). A bad token answers 401, which stops a standard EventSource for good: log in again.

Events: hello, message, invited, kicked, membersjoined, membersleft, messagerecall, messageupdate,
infoupdated, unreadmessagescountupdate, lastdeliveredatupdate, lastreadatupdate, presence, conflict,
reset, memberinfoupdated, membersmuted, membersunmuted, muted, unmuted, membersblocked,
membersunblocked, blocked, unblocked; the 200 response's schema has each one, its data's schema
and an example (x-parley-events lists the same by event name). A fresh stream sends the unread
summary (or, for sessions logged in with offlineMessages push, the unread messages with
offline: true) right after hello.`

// eventStreamContent documents the stream's 200 answer the way huma's sse
// package does: an array whose items are the stream's events, each one of
// the schemas of eventTypes, told apart by its event name; the data of each
// is its Go type's schema in the registry. Each example is one event, as
// that schema describes it and, in its description, as written on the wire.
// x-parley-events lists the same by event name.
func eventStreamContent(reg huma.Registry) *huma.MediaType {
	byName := map[string]any{}
	var oneOf []*huma.Schema
	examples := map[string]*huma.Example{}
	for i, et := range eventTypes {
		data := reg.Schema(reflectTypeOf(et.example), true, string(et.name))
		byName[string(et.name)] = map[string]any{"description": et.doc, "data": data}
		ev := &huma.Schema{
			Title: string(et.name), Description: et.doc, Type: huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeString, Description: "The event id: Last-Event-ID resumes after it", Examples: []any{"8m2f1.1"}},
				"event": {Type: huma.TypeString, Enum: []any{string(et.name)}},
				"data":  data,
			},
			Required:             []string{"id", "event", "data"},
			AdditionalProperties: false,
		}
		frame := sseFrame{ID: "8m2f1." + strconv.Itoa(i), Event: string(et.name), Data: et.example}
		if et.name == events.NameHello {
			ev.Properties["retry"] = &huma.Schema{Type: huma.TypeInteger, Description: "The reconnect delay in milliseconds"}
			ev.Required = append(ev.Required, "retry")
			frame.ID, frame.Retry = "8m2f1.0", 2000
		}
		oneOf = append(oneOf, ev)
		examples[string(et.name)] = &huma.Example{
			Summary:     "event: " + string(et.name),
			Description: "On the wire:\n\n```\n" + frame.wire() + "```",
			Value:       []sseFrame{frame},
		}
	}
	return &huma.MediaType{
		Schema: &huma.Schema{
			Title: "Server-Sent Events", Type: huma.TypeArray,
			Description: "The stream's events in order, each written as one Server-Sent-Events frame (UTF-8 text, not JSON): " +
				"its retry: (hello only), id:, event: and data: lines (data is one line of JSON), then a blank line. " +
				"Heartbeat comments (: ping) are not events.",
			Items: &huma.Schema{OneOf: oneOf},
		},
		Examples:   examples,
		Extensions: map[string]any{"x-parley-events": byName},
	}
}

// sseFrame is one event of the stream as the document's schema has it.
type sseFrame struct {
	Retry int64  `json:"retry,omitempty"`
	ID    string `json:"id"`
	Event string `json:"event"`
	Data  any    `json:"data"`
}

// wire is the frame as the stream writes it (see writeStream).
func (f sseFrame) wire() string {
	var b []byte
	if f.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, f.Retry, 10)
		b = append(b, '\n')
	}
	b = appendFrame(b, f.ID, events.MustNew(events.Name(f.Event), f.Data))
	return string(b)
}
