package gateway

// This file delivers a logged-in client's events: its session attaches to
// the hub like an SSE stream (the same online, presence, hook and will
// semantics), and each event is written as the LeanCloud push that says the
// same (translate), with service = 2 and the peerId.
//
// An idle connection has no goroutine but its reader: the stream's Writer,
// which the hub's workers call when events wait (or the stream must end),
// starts a flusher, a goroutine that writes what the connection's sessions
// hold and ends. (The Writer itself may not write: a hub worker must never
// block, and a WebSocket write may.)

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/gateway/lcproto"
	"github.com/parley-im/parley/handlers"
	"github.com/parley-im/parley/leancloud"
)

// attach opens the hub's stream of a session that has just logged in
// (fresh) or presented its token, answers session/opened, and then, unless
// the stream resumes where this session's last connection stopped, pushes
// the unread summary. Only then are the session's events written, so that
// the client reads session/opened first.
func (c *conn) attach(ctx context.Context, cmd *lcproto.GenericCommand, s *session, fresh bool) {
	peerID := cmd.GetPeerId()
	last := ""
	if !fresh {
		last = c.g.resume.take(s.p.SessionID)
	}
	st, hello, err := c.g.hub.Attach(s.p.SessionID, s.p.ClientID, last)
	if err != nil {
		if fresh { // a session nobody can use: end it at once
			if lerr := c.g.svc.Logout(ctx, s.p); lerr != nil && !errors.Is(lerr, context.Canceled) {
				c.g.log.Error("gateway: ending a session whose stream was refused", "session", s.p.SessionID, "err", lerr)
			}
		}
		code, reason := CodeInternal, "the server is shutting down: reconnect"
		switch {
		case errors.Is(err, events.ErrClientStreams):
			code, reason = CodeAppQuotaExceeded, "this client holds as many sessions online as it may"
		case errors.Is(err, events.ErrTooManyStreams):
			reason = "the server holds as many sessions online as it may: retry later"
		}
		c.send(ctx, errorCommand(cmd.I, peerID, code, reason))
		return
	}
	s.st = st
	s.seq = startSeq(hello.ID)
	c.g.svc.SessionOnline(ctx, s.p, hello.CameOnline, hello.Returning || last != "")
	// A fresh stream starts with the unread summary (protocol v3), as an
	// SSE stream does; a resumed one replays what was missed instead. The
	// summary is taken now, before session/opened: once the client reads
	// that, it may act (another client may send it a message), and what
	// follows reaches it through the stream, attached above. A summary
	// taken later would count those too, and then arrive before their own
	// pushes, which would say the same again.
	var unread *lcproto.GenericCommand
	if !hello.Resumed {
		unread = c.unreadSummary(ctx, s, cmd.GetSessionMessage().GetLastUnreadNotifTime())
	}
	c.opened(ctx, cmd, s)
	if unread != nil {
		c.send(ctx, unread)
	}
	// Patches since lastPatchTime: Parley keeps when a message was last
	// patched but has no index to find a client's patches since a time, so
	// it cannot tell; a resumed stream replays the recalls and edits of its
	// replay window, and the SDKs read edited content from history anyway.
	c.mu.Lock()
	c.sessions[peerID] = s
	c.mu.Unlock()
	st.SetWriter(func(*events.Scratch) { c.schedule() })
	c.schedule() // what came since the attach
}

// forget takes a session off the connection and detaches its stream; the
// caller ends or abandons the session.
func (c *conn) forget(peerID string, s *session) {
	c.mu.Lock()
	if c.sessions[peerID] == s {
		delete(c.sessions, peerID)
	}
	c.mu.Unlock()
	s.st.Close()
}

// schedule has the sessions' events written: it starts the flusher, or has
// the running one go round once more. It never blocks (hub workers call it).
// The client's keepalives (echo, WebSocket pings) call it too: when the
// hub's workers are swamped, a stream is only signalled, which nothing here
// listens to, and its events then wait at most for the next keepalive.
func (c *conn) schedule() {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	switch {
	case c.stopped:
	case c.flushing:
		c.again = true
	default:
		c.flushing = true
		c.flushers.Add(1)
		go c.flusher()
	}
}

// flusher writes what every session of the connection holds, until nothing
// came meanwhile.
func (c *conn) flusher() {
	defer c.flushers.Done()
	var live []*session
	var items []events.Item
	for {
		live = c.live(live[:0])
		for _, s := range live {
			items = c.flush(c.ctx, s, items)
		}
		clear(live)
		c.flushMu.Lock()
		if !c.again || c.stopped {
			c.flushing, c.again = false, false
			c.flushMu.Unlock()
			return
		}
		c.again = false
		c.flushMu.Unlock()
	}
}

// unreadSummary is the unread push of the unread summary: the
// conversations with unread messages whose newest message came after since
// (the SDK's lastUnreadNotifTime: the notifTime of the summary it got
// last); nil when there are none.
func (c *conn) unreadSummary(ctx context.Context, s *session, since int64) *lcproto.GenericCommand {
	sum, err := c.g.svc.Unread(ctx, s.p)
	if err != nil {
		c.g.log.Error("gateway: unread summary", "session", s.p.SessionID, "err", err)
		return nil
	}
	// The summary's entries keep their last message in its stored form,
	// which only their JSON shows.
	data, err := json.Marshal(sum)
	if err != nil {
		c.g.log.Error("gateway: unread summary", "session", s.p.SessionID, "err", err)
		return nil
	}
	return c.unread(s, data, since)
}

// live appends the connection's sessions to buf.
func (c *conn) live(buf []*session) []*session {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sessions {
		buf = append(buf, s)
	}
	return buf
}

// flushBatch bounds the events taken at once.
const flushBatch = 64

// flush writes what the session's stream holds and deals with its end.
func (c *conn) flush(ctx context.Context, s *session, items []events.Item) []events.Item {
	s.writing.Lock()
	defer s.writing.Unlock()
	if s.gone { // logged out here (close): nothing more is written
		return items
	}
	var err error
	for {
		items, err = s.st.Take(items[:0], flushBatch)
		// The batch goes to the connection in one write (cork.go); only
		// then do its events count as written (seq, receipts).
		if len(items) > 0 {
			c.cork.cork()
		}
		ok := true
		for _, it := range items {
			for _, cmd := range c.translate(s, it.Event) {
				if ok = c.send(ctx, cmd); !ok {
					break
				}
			}
			if !ok {
				break
			}
		}
		if c.cork.uncork() != nil || !ok {
			c.ws.CloseNow()
			clear(items)
			return items // the connection is broken: serve ends
		}
		for _, it := range items {
			s.seq = it.Seq
			if it.Event.OnWritten != nil {
				it.Event.OnWritten(s.p.ClientID) // delivered: receipts
			}
		}
		n := len(items)
		clear(items) // let written events be collected
		if err != nil || n < flushBatch {
			break
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, events.ErrEnded):
		c.ended(ctx, s)
	case errors.Is(err, events.ErrReplaced):
		// The session attached elsewhere (a reconnect on another
		// connection): it is that connection's now. (The hub tells a
		// replaced stream's Writer nothing: the session stays here, unused,
		// until this connection ends; resumePoints keeps the newer point.)
		c.forget(s.p.ClientID, s)
	case errors.Is(err, events.ErrSlowConsumer):
		// The client fell a whole replay log behind: it reconnects and
		// starts afresh from the unread summary.
		c.ws.Close(websocket.StatusTryAgainLater, "too far behind: reconnect")
	}
	// ErrShutdown: Gateway.Close closes the connection.
	return items
}

// ended deals with a session that ended while it was on this connection:
// by a newer login with its tag (the conflict event has told the client
// already), by the master key (session/closed 4115), or by a logout
// elsewhere. A session this connection logged out has left it already.
func (c *conn) ended(ctx context.Context, s *session) {
	c.mu.Lock()
	current := c.sessions[s.p.ClientID] == s
	c.mu.Unlock()
	if !current {
		return
	}
	c.forget(s.p.ClientID, s)
	if s.closed {
		return
	}
	m := &lcproto.SessionCommand{Reason: proto.String("the session was logged out")}
	if c.g.svc.SessionKicked(ctx, s.p.SessionID) {
		m = &lcproto.SessionCommand{Code: proto.Int32(CodeKickedByApp), Reason: proto.String("kicked by the app")}
	}
	c.send(ctx, push(s, lcproto.CommandType_session, lcproto.OpType_closed, func(g *lcproto.GenericCommand) { g.SessionMessage = m }))
}

// push is a server push to s's client: service 2 and its peerId, which the
// SDKs route by.
func push(s *session, cmd lcproto.CommandType, op lcproto.OpType, fill func(*lcproto.GenericCommand)) *lcproto.GenericCommand {
	g := &lcproto.GenericCommand{Cmd: cmd.Enum(), PeerId: proto.String(s.p.ClientID), Service: proto.Int32(serviceIM)}
	if op != 0 {
		g.Op = op.Enum()
	}
	fill(g)
	return g
}

// translate turns one event into the LeanCloud pushes that say the same
// (none when LeanCloud has no counterpart).
//
// No counterpart: hello and reset (the SSE writer's own, never logged),
// presence (LeanCloud's SDKs poll with session/query instead; a gateway
// session never subscribes).
func (c *conn) translate(s *session, ev *events.Event) []*lcproto.GenericCommand {
	data := ev.Data()
	var out *lcproto.GenericCommand
	var err error
	switch ev.Name {
	case events.NameMessage:
		out, err = c.direct(s, data)
	case events.NameMessageRecall, events.NameMessageUpdate:
		out, err = c.patched(s, data)
	case events.NameUnreadMessagesCountUpdate:
		out = c.unread(s, data, 0)
	case events.NameLastDeliveredAtUpdate:
		var e handlers.LastDeliveredAtEvent
		if err = json.Unmarshal(data, &e); err == nil {
			return s.receipts(e.ConversationID, e.LastDeliveredAt, false, "")
		}
	case events.NameLastReadAtUpdate:
		var e handlers.LastReadAtEvent
		if err = json.Unmarshal(data, &e); err == nil {
			return s.receipts(e.ConversationID, e.LastReadAt, true, e.ClientID)
		}
	case events.NameConflict:
		var e handlers.ReasonEvent
		err = json.Unmarshal(data, &e)
		s.closed = true
		out = push(s, lcproto.CommandType_session, lcproto.OpType_closed, func(g *lcproto.GenericCommand) {
			g.SessionMessage = &lcproto.SessionCommand{Code: proto.Int32(CodeSessionConflict), Reason: proto.String(e.Reason)}
		})
	case events.NameInfoUpdated:
		out, err = infoUpdated(s, data)
	case events.NameMemberInfoUpdated:
		var e handlers.MemberInfoEvent
		err = json.Unmarshal(data, &e)
		out = convPush(s, lcproto.OpType_member_info_changed, e.ConversationID, e.UpdatedBy, nil)
		out.ConvMessage.Info = &lcproto.ConvMemberInfo{Pid: proto.String(e.Member), Role: proto.String(roleName(e.Role))}
	default:
		out, err = membership(s, ev.Name, data)
	}
	if err != nil {
		c.g.log.Error("gateway: translating an event", "event", string(ev.Name), "err", err)
		return nil
	}
	if out == nil {
		return nil
	}
	return []*lcproto.GenericCommand{out}
}

// membership translates the membership, role, silence and block events:
// each is a conv push with cid, initBy and m.
func membership(s *session, name events.Name, data []byte) (*lcproto.GenericCommand, error) {
	var e struct {
		ConversationID string   `json:"conversationId"`
		Members        []string `json:"members"`
		// Who acted: each event names it its own way.
		InvitedBy string `json:"invitedBy"`
		KickedBy  string `json:"kickedBy"`
		By        string `json:"by"`
	}
	var op lcproto.OpType
	self := false // the event is about this client: m is itself
	switch name {
	case events.NameInvited:
		op, self = lcproto.OpType_joined, true
	case events.NameKicked:
		op, self = lcproto.OpType_left, true
	case events.NameMembersJoined:
		op = lcproto.OpType_members_joined
	case events.NameMembersLeft:
		op = lcproto.OpType_members_left
	case events.NameMuted:
		op, self = lcproto.OpType_shutuped, true
	case events.NameUnmuted:
		op, self = lcproto.OpType_unshutuped, true
	case events.NameMembersMuted:
		op = lcproto.OpType_members_shutuped
	case events.NameMembersUnmuted:
		op = lcproto.OpType_members_unshutuped
	case events.NameBlocked:
		op, self = lcproto.OpType_blocked, true
	case events.NameUnblocked:
		op, self = lcproto.OpType_unblocked, true
	case events.NameMembersBlocked:
		op = lcproto.OpType_members_blocked
	case events.NameMembersUnblocked:
		op = lcproto.OpType_members_unblocked
	default:
		return nil, nil // no counterpart (see translate)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	m := e.Members
	if self {
		m = []string{s.p.ClientID}
	}
	return convPush(s, op, e.ConversationID, cmp.Or(e.InvitedBy, e.KickedBy, e.By), m), nil
}

func convPush(s *session, op lcproto.OpType, cid, by string, m []string) *lcproto.GenericCommand {
	return push(s, lcproto.CommandType_conv, op, func(g *lcproto.GenericCommand) {
		g.ConvMessage = &lcproto.ConvCommand{Cid: proto.String(cid), InitBy: proto.String(by), M: m}
	})
}

// roleName is a role as LeanCloud spells it (_ConversationMemberInfo).
func roleName(r string) string {
	switch r {
	case handlers.RoleOwner:
		return "Owner"
	case handlers.RoleManager:
		return "Manager"
	case handlers.RoleMember:
		return "Member"
	}
	return r
}

// infoUpdated is conv/updated: attr carries the conversation's name and
// attributes after the change, in the `_Conversation` shape (leancloud.
// ConversationOf), which the JS SDK merges key by key into what it holds.
func infoUpdated(s *session, data []byte) (*lcproto.GenericCommand, error) {
	var e handlers.InfoUpdatedEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	attr, err := json.Marshal(struct {
		Name string         `json:"name"`
		Attr map[string]any `json:"attr"`
	}{e.Name, e.Attributes})
	if err != nil {
		return nil, err
	}
	out := convPush(s, lcproto.OpType_updated, e.ConversationID, e.UpdatedBy, nil)
	out.ConvMessage.Attr = &lcproto.JsonObjectMessage{Data: proto.String(string(attr))}
	return out, nil
}

// convType is LeanCloud's kind of a conversation as far as its id tells
// (temporary ones start with _tmp:; 1 normal, 2 chat room, 3 system,
// 4 temporary): the events do not carry the kind, and JSRT reads none.
func convType(cid string) *int32 {
	if strings.HasPrefix(cid, "_tmp:") {
		return proto.Int32(4)
	}
	return nil
}

// direct is a message push.
func (c *conn) direct(s *session, data []byte) (*lcproto.GenericCommand, error) {
	var e handlers.MessageEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	m := e.Message
	if m == nil {
		return nil, errors.New("a message event without its message")
	}
	p, err := leancloud.MessageToLeanCloud(m)
	if err != nil {
		return nil, err
	}
	d := &lcproto.DirectCommand{
		Cid: proto.String(e.ConversationID), Id: proto.String(m.ID), FromPeerId: proto.String(m.From),
		Timestamp: proto.Int64(m.Timestamp), PatchTimestamp: m.PatchedAt,
		MentionPids: p.MentionPids, ConvType: convType(e.ConversationID),
	}
	setContent(p, &d.Msg, &d.BinaryMsg)
	d.Transient = trueOrNil(m.Transient)
	d.Offline = trueOrNil(e.Offline)
	d.MentionAll = trueOrNil(p.MentionAll)
	return push(s, lcproto.CommandType_direct, 0, func(g *lcproto.GenericCommand) { g.DirectMessage = d }), nil
}

// patched is patch/modify: a recall (its data the content of LeanCloud's
// RecalledMessage, {"_lctype":-127}) or an edit (the new content).
func (c *conn) patched(s *session, data []byte) (*lcproto.GenericCommand, error) {
	var e handlers.MessageChangeEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	m := e.Message
	if m == nil {
		return nil, errors.New("a message change without its message")
	}
	p, err := leancloud.MessageToLeanCloud(m)
	if err != nil {
		return nil, err
	}
	// A recall keeps no time of its own: the push's time stands for it.
	at := c.g.now().UnixMilli()
	if m.PatchedAt != nil && !m.Recalled {
		at = *m.PatchedAt
	}
	it := &lcproto.PatchItem{
		Cid: proto.String(e.ConversationID), Mid: proto.String(m.ID), Timestamp: proto.Int64(m.Timestamp),
		Recall: proto.Bool(m.Recalled), PatchTimestamp: proto.Int64(at), From: proto.String(m.From),
		MentionPids: p.MentionPids, MentionAll: trueOrNil(p.MentionAll),
	}
	setContent(p, &it.Data, &it.BinaryMsg)
	return push(s, lcproto.CommandType_patch, lcproto.OpType_modify, func(g *lcproto.GenericCommand) {
		g.PatchMessage = &lcproto.PatchCommand{Patches: []*lcproto.PatchItem{it}, LastPatchTime: proto.Int64(at)}
	}), nil
}

// unread is the unread push of an unread summary's JSON (the data of
// unreadmessagescountupdate), without the conversations whose newest
// message is no newer than since; nil when none is left.
func (c *conn) unread(s *session, data []byte, since int64) *lcproto.GenericCommand {
	var e handlers.UnreadEvent
	if err := json.Unmarshal(data, &e); err != nil {
		c.g.log.Error("gateway: translating unread counts", "err", err)
		return nil
	}
	u := &lcproto.UnreadCommand{NotifTime: proto.Int64(c.g.now().UnixMilli())}
	for _, en := range e.Conversations {
		m := en.LastMessage
		if since > 0 && (m == nil || max(m.Timestamp, ptrOr(m.PatchedAt)) <= since) {
			continue
		}
		t := &lcproto.UnreadTuple{
			Cid: proto.String(en.ConversationID), Unread: proto.Int32(int32(min(en.UnreadMessagesCount, 1<<31-1))),
			Mentioned: trueOrNil(en.Mentioned), ConvType: convType(en.ConversationID),
		}
		if m != nil {
			p, err := leancloud.MessageToLeanCloud(m)
			if err == nil {
				t.Mid, t.Timestamp, t.From, t.PatchTimestamp = proto.String(m.ID), proto.Int64(m.Timestamp), proto.String(m.From), m.PatchedAt
				setContent(p, &t.Data, &t.BinaryMsg)
			}
		}
		u.Convs = append(u.Convs, t)
	}
	if len(u.Convs) == 0 {
		return nil
	}
	return push(s, lcproto.CommandType_unread, 0, func(g *lcproto.GenericCommand) { g.UnreadMessage = u })
}

// setContent puts LeanCloud content where a command carries it: msg (data)
// or, for binary content, binaryMsg.
func setContent(p leancloud.Payload, msg **string, bin *[]byte) {
	if p.Bin {
		if b, err := base64.StdEncoding.DecodeString(p.Data); err == nil {
			*bin = b
			return
		}
	}
	*msg = proto.String(p.Data)
}

func trueOrNil(b bool) *bool {
	if b {
		return proto.Bool(true)
	}
	return nil
}

func ptrOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// awaited is a message this session sent with r: true (a receipt wanted),
// until a receipt names it: Parley's receipts say how far the other member
// has received or read, LeanCloud's rcp names the message.
type awaited struct {
	cid, id string
	at      int64
}

// maxAwaited bounds the messages a session remembers for receipts; past
// it, the oldest get a receipt without their id (the SDK still learns how
// far the conversation was received).
const maxAwaited = 256

func (s *session) await(cid, id string, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == maxAwaited {
		s.waiting = append(s.waiting[:0], s.waiting[1:]...)
	}
	s.waiting = append(s.waiting, awaited{cid, id, at})
}

// receipts are the rcp pushes of a receipt: one per awaited message of the
// conversation it covers (up to at), or one without an id when none is.
func (s *session) receipts(cid string, at int64, read bool, from string) []*lcproto.GenericCommand {
	rcp := func(id *string) *lcproto.GenericCommand {
		return push(s, lcproto.CommandType_rcp, 0, func(g *lcproto.GenericCommand) {
			g.RcpMessage = &lcproto.RcpCommand{Id: id, Cid: proto.String(cid), T: proto.Int64(at), Read: proto.Bool(read)}
			if from != "" {
				g.RcpMessage.From = proto.String(from)
			}
		})
	}
	var out []*lcproto.GenericCommand
	s.mu.Lock()
	kept := s.waiting[:0]
	for _, w := range s.waiting {
		if w.cid == cid && w.at <= at {
			out = append(out, rcp(proto.String(w.id)))
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiting[len(kept):])
	s.waiting = kept
	s.mu.Unlock()
	if len(out) == 0 {
		out = append(out, rcp(nil))
	}
	return out
}

// resumePoints remember where the sessions of closed connections stopped
// reading their events, so that a reconnect with the session token resumes
// there (the SDKs know no event ids; SSE clients send Last-Event-ID).
// A point is kept for resumeKeep, past the hub's replay window: the hub
// itself says when it can no longer resume.
type resumePoints struct {
	mu     sync.Mutex
	points map[string]resumePoint // by session id
	pruned time.Time
}

type resumePoint struct {
	epoch string
	seq   uint64
	at    time.Time
}

const resumeKeep = 10 * time.Minute

func (r *resumePoints) put(sessionID, epoch string, seq uint64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.points == nil {
		r.points = map[string]resumePoint{}
	}
	// A connection whose session moved to another one may end after it:
	// the point further on stands.
	if p, ok := r.points[sessionID]; !ok || p.epoch != epoch || p.seq < seq {
		r.points[sessionID] = resumePoint{epoch, seq, now}
	}
	if now.Sub(r.pruned) > time.Minute { // at most one sweep a minute
		r.pruned = now
		for id, p := range r.points {
			if now.Sub(p.at) > resumeKeep {
				delete(r.points, id)
			}
		}
	}
}

// take returns the event id a session resumes after ("" for none) and
// forgets it.
func (r *resumePoints) take(sessionID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.points[sessionID]
	if !ok {
		return ""
	}
	delete(r.points, sessionID)
	return string(events.AppendID(nil, p.epoch, p.seq))
}

// startSeq is the seq part of the event id a stream starts at.
func startSeq(id string) uint64 {
	_, n, _ := strings.Cut(id, ".")
	seq, _ := strconv.ParseUint(n, 10, 64)
	return seq
}
