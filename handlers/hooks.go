package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/store"
)

// This file calls the app's hook server (package hooks) from the rules,
// with LeanCloud's parameters and results (README, "Hooks"). Every
// operation that performs an action calls its hook, whoever asks for it: a
// client's session, the master key, a will message sent by the janitor.
//
// A before-hook runs before the operation's write, never inside it (the
// writer goroutine must not wait on the network), on what the read pool
// says: the write checks everything again, as it always does. With no hook
// URL, s.hooks is nil and each operation pays one nil check.

// HookContent converts message content to and from LeanCloud's content
// form, the form hooks carry (`content`: `_lctype` JSON, or an untyped
// message's data). The conversion lives in package leancloud, which imports
// handlers for Content and ValidateContent; handlers cannot import it back,
// and moving Content out of handlers would move half the rules with it. So
// the server hands the conversion in through Config.HookContent
// (leancloud.HookContent), the way it hands in the hooks client.
type HookContent interface {
	// ToLeanCloud renders c (with recalled: a recalled message's content).
	ToLeanCloud(c *Content, recalled bool) (string, error)
	// FromLeanCloud reads content a hook returned; like is the content it
	// replaces, whose mentions (which LeanCloud's content form does not
	// carry) it keeps.
	FromLeanCloud(data string, bin bool, like *Content) (Content, error)
}

// jsonContent is the HookContent of a Service not given one (tests of the
// rules alone): Parley's own JSON of the content.
type jsonContent struct{}

func (jsonContent) ToLeanCloud(c *Content, recalled bool) (string, error) {
	if recalled {
		return "{}", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

func (jsonContent) FromLeanCloud(data string, _ bool, like *Content) (Content, error) {
	var c Content
	err := json.Unmarshal([]byte(data), &c)
	c.MentionList, c.MentionAll = like.MentionList, like.MentionAll
	return c, err
}

// peerSet narrows the live delivery of a message to the clients a hook's
// toPeers named (and the sender's own other sessions); nil: no narrowing.
type peerSet map[string]struct{}

func newPeerSet(ids []string) peerSet {
	ps := make(peerSet, len(ids))
	for _, id := range ids {
		ps[id] = struct{}{}
	}
	return ps
}

// admits reports whether a delivery to clientID goes ahead; from is the
// sender, whose other sessions always get their own message.
func (ps peerSet) admits(clientID, from string) bool {
	if ps == nil || clientID == from {
		return true
	}
	_, ok := ps[clientID]
	return ok
}

// filter keeps the ids ps admits, in place.
func (ps peerSet) filter(ids []string, from string) []string {
	if ps == nil {
		return ids
	}
	return slices.DeleteFunc(ids, func(id string) bool { return !ps.admits(id, from) })
}

// messageHookParams are _messageReceived's and _messageUpdate's parameters
// (LEANCLOUD.md §5.2).
type messageHookParams struct {
	FromPeer  string   `json:"fromPeer"`
	ConvID    string   `json:"convId"`
	ToPeers   []string `json:"toPeers"`
	Transient bool     `json:"transient"`
	Bin       bool     `json:"bin"`
	Content   string   `json:"content"`
	Receipt   bool     `json:"receipt"`
	Timestamp int64    `json:"timestamp"`
	System    bool     `json:"system"`
	SourceIP  string   `json:"sourceIP,omitempty"`
	MsgID     string   `json:"msgId,omitempty"`  // _messageUpdate
	Recall    *bool    `json:"recall,omitempty"` // _messageUpdate
}

// messageHookResult is what _messageReceived and _messageUpdate may answer.
type messageHookResult struct {
	Drop    bool      `json:"drop"`
	Code    *int      `json:"code"`
	Detail  string    `json:"detail"`
	Bin     bool      `json:"bin"`
	Content *string   `json:"content"`
	ToPeers *[]string `json:"toPeers"`
}

// messageSentParams are _messageSent's.
type messageSentParams struct {
	FromPeer     string   `json:"fromPeer"`
	ConvID       string   `json:"convId"`
	MsgID        string   `json:"msgId"`
	OnlinePeers  []string `json:"onlinePeers"`
	OfflinePeers []string `json:"offlinePeers"`
	Transient    bool     `json:"transient"`
	System       bool     `json:"system"`
	Bin          bool     `json:"bin"`
	Content      string   `json:"content"`
	Receipt      bool     `json:"receipt"`
	Timestamp    int64    `json:"timestamp"`
	SourceIP     string   `json:"sourceIP,omitempty"`
}

// convHookParams are the conversation hooks' parameters.
type convHookParams struct {
	InitBy  string    `json:"initBy"`
	ConvID  string    `json:"convId,omitempty"`
	Members []string  `json:"members,omitempty"`
	Attr    *convAttr `json:"attr,omitempty"`
	Mute    *bool     `json:"mute,omitempty"`
}

// convAttr is a conversation's name and attributes in the shape of
// LeanCloud's _Conversation row, how conversation hooks carry them.
type convAttr struct {
	Name *string        `json:"name,omitempty"`
	Attr map[string]any `json:"attr"`
}

// convHookResult is what the conversation hooks may answer.
type convHookResult struct {
	Reject bool      `json:"reject"`
	Code   *int      `json:"code"`
	Detail string    `json:"detail"`
	Attr   *convAttr `json:"attr"`
	Mute   *bool     `json:"mute"`
}

// before calls a before-hook and decodes its result into result; called is
// false when there was no result to act on (none given, or the call failed
// and hooks fail open). A failure with hooks failing closed is HOOK_FAILED.
func (s *Service) before(ctx context.Context, hook string, params, result any) (called bool, err error) {
	raw, err := s.hooks.Call(ctx, hook, params)
	if err == nil && len(raw) > 0 {
		if err = json.Unmarshal(raw, result); err == nil {
			return true, nil
		}
		err = fmt.Errorf("hook %s: its result: %w", hook, err)
	}
	if err != nil {
		return false, s.hookFailed(hook, err)
	}
	return false, nil
}

// hookFailed decides what a failed before-hook means: nothing (fail open),
// or HOOK_FAILED (fail closed).
func (s *Service) hookFailed(hook string, err error) error {
	if s.hooks.FailClosed() {
		s.log.Warn("hook failed: the action is refused (hooks fail closed)", "hook", hook, "err", err)
		return fail(CodeHookFailed, "the app's %s hook failed; nothing was done, try again later", hook)
	}
	s.log.Warn("hook failed: the action goes ahead (hooks fail open)", "hook", hook, "err", err)
	return nil
}

// rejected is the refusal a hook asked for.
func rejected(code Code, appCode *int, detail, otherwise string) *Error {
	if detail == "" {
		detail = otherwise
	}
	return &Error{Code: code, Detail: detail, AppCode: appCode}
}

func (s *Service) hookContent() HookContent {
	if s.cfg.HookContent != nil {
		return s.cfg.HookContent
	}
	return jsonContent{}
}

// messageReceived runs the _messageReceived hook before a send: it may
// drop the message, replace its content (in req) or narrow whom it
// reaches live (the peerSet; nil: everyone). The conversation and the
// sender's right to send are checked first, on the read pool, so that the
// hook hears only of messages that can go.
func (s *Service) messageReceived(ctx context.Context, from sender, convID string, req *SendRequest) (peerSet, error) {
	r := s.db.R()
	conv, err := s.findConversation(ctx, r, convID)
	if err != nil {
		return nil, err
	}
	to, err := s.audienceOf(r, conv, from)
	if err != nil {
		return nil, err
	}
	peers := []string{}
	if to.room == "" && !to.private {
		members, err := store.Members(ctx, r, convID)
		if err != nil {
			return nil, err
		}
		peers = slices.DeleteFunc(members, func(m string) bool { return m == from.clientID })
	}
	content, err := s.hookContent().ToLeanCloud(&req.Content, false)
	if err != nil {
		return nil, s.hookFailed(hooks.MessageReceived, err)
	}
	params := messageHookParams{
		FromPeer: from.clientID, ConvID: convID, ToPeers: peers, Transient: req.Transient,
		Content: content, Receipt: req.Receipt, Timestamp: s.nowMs(), System: conv.Kind == KindSystem, SourceIP: from.ip,
	}
	var res messageHookResult
	if ok, err := s.before(ctx, hooks.MessageReceived, params, &res); !ok || err != nil {
		return nil, err
	}
	return s.applyMessageResult(hooks.MessageReceived, &res, content, &req.Content)
}

// applyMessageResult acts on _messageReceived's or _messageUpdate's
// result: drop refuses, content replaces c (when c is not nil), toPeers
// narrows. Content the rules refuse is the hook's failure.
func (s *Service) applyMessageResult(hook string, res *messageHookResult, sent string, c *Content) (peerSet, error) {
	if res.Drop {
		return nil, rejected(CodeMessageRejected, res.Code, res.Detail, "the app's "+hook+" hook refused the message")
	}
	if c != nil && res.Content != nil && (*res.Content != sent || res.Bin) {
		nc, err := s.hookContent().FromLeanCloud(*res.Content, res.Bin, c)
		if err == nil {
			_, err = ValidateContent(&nc)
		}
		if err != nil {
			return nil, s.hookFailed(hook, fmt.Errorf("the content it returned: %w", err))
		}
		*c = nc
	}
	if res.ToPeers != nil {
		return newPeerSet(*res.ToPeers), nil
	}
	return nil, nil
}

// messageSent queues _messageSent for a message just delivered to its
// audience.
func (s *Service) messageSent(m *Message, to audience, from sender, receipt, system bool) {
	content, err := s.hookContent().ToLeanCloud(&m.Content, false)
	if err != nil {
		s.log.Warn("hook: cannot render the content", "hook", hooks.MessageSent, "err", err)
		return
	}
	online, offline := []string{}, []string{}
	peer := func(id string) {
		if id == from.clientID || !to.only.admits(id, from.clientID) {
			return
		}
		if s.hub.Online(id) {
			online = append(online, id)
		} else {
			offline = append(offline, id)
		}
	}
	for _, r := range to.recipients {
		peer(r.ClientID)
	}
	for _, id := range to.members {
		peer(id)
	}
	s.hooks.After(hooks.MessageSent, messageSentParams{
		FromPeer: m.From, ConvID: m.ConversationID, MsgID: m.ID, OnlinePeers: online, OfflinePeers: offline,
		Transient: m.Transient, System: system, Content: content, Receipt: receipt, Timestamp: m.Timestamp, SourceIP: from.ip,
	})
}

// messageUpdate runs the _messageUpdate hook before an edit (edit: the new
// content, which the result may replace) or a recall (edit nil). What the
// read pool says cannot be done (no such message, not the sender's) goes to
// the write without the hook, which refuses it as it always does.
func (s *Service) messageUpdate(ctx context.Context, p Principal, convID, messageID string, edit *Content) (peerSet, error) {
	r := s.db.R()
	conv, err := s.findConversation(ctx, r, convID)
	if err != nil {
		return nil, nil
	}
	if s.may(r, conv, p, actChangeMsg) != nil {
		return nil, nil // refused: the change says why, without asking the hook
	}
	peers := []string{}
	if conv.Kind != KindChatRoom {
		if peers, err = store.Members(ctx, r, convID); err != nil {
			return nil, nil
		}
	}
	mid, ok, err := s.messageMID(ctx, r, convID, messageID)
	if err != nil || !ok {
		return nil, nil
	}
	m, err := store.GetMessage(ctx, r, convID, mid)
	if err != nil || !sees(p, m) || mayChangeMessage(p, m, edit != nil) != nil {
		return nil, nil
	}
	recall := edit == nil
	var content string
	if recall {
		old := toMessage(m)
		content, err = s.hookContent().ToLeanCloud(&old.Content, m.Recalled)
	} else {
		content, err = s.hookContent().ToLeanCloud(edit, false)
	}
	if err != nil {
		return nil, s.hookFailed(hooks.MessageUpdate, err)
	}
	params := messageHookParams{
		FromPeer: m.From, ConvID: convID, Content: content, Timestamp: s.nowMs(), MsgID: messageID,
		ToPeers: slices.DeleteFunc(peers, func(id string) bool { return id == m.From }), Recall: &recall,
		System: conv.Kind == KindSystem, SourceIP: p.IP,
	}
	var res messageHookResult
	if ok, err := s.before(ctx, hooks.MessageUpdate, params, &res); !ok || err != nil {
		return nil, err
	}
	return s.applyMessageResult(hooks.MessageUpdate, &res, content, edit)
}

// conversationHook runs a conversation before-hook: reject refuses with
// OPERATION_REJECTED; the result is returned for the hooks that may change
// the operation (_conversationUpdate's attr and mute).
func (s *Service) conversationHook(ctx context.Context, hook string, params convHookParams) (*convHookResult, error) {
	var res convHookResult
	if ok, err := s.before(ctx, hook, params, &res); !ok || err != nil {
		return nil, err
	}
	if res.Reject {
		return nil, rejected(CodeOperationRejected, res.Code, res.Detail, "the app's "+hook+" hook refused it")
	}
	return &res, nil
}

// attrOf is a conversation's name and attributes as hooks carry them.
func attrOf(name *string, attrs map[string]any) *convAttr {
	a := &convAttr{Name: name, Attr: attrs}
	if a.Attr == nil {
		a.Attr = map[string]any{}
	}
	return a
}

// updateConversationHook runs _conversationUpdate before a change of name
// or attributes; its result's attr replaces the change.
func (s *Service) updateConversationHook(ctx context.Context, p Principal, id string, req *UpdateConversationRequest) error {
	res, err := s.conversationHook(ctx, hooks.ConversationUpdate, convHookParams{
		InitBy: p.ClientID, ConvID: id, Attr: attrOf(req.Name, maps.Clone(req.Attributes)),
	})
	if err != nil || res == nil || res.Attr == nil {
		return err
	}
	next := UpdateConversationRequest{Name: res.Attr.Name, Attributes: res.Attr.Attr}
	if err := checkUpdate(&next); err != nil {
		return s.hookFailed(hooks.ConversationUpdate, fmt.Errorf("the attr it returned: %w", err))
	}
	*req = next
	return nil
}

// clientHookParams are _clientOnline's and _clientOffline's parameters.
type clientHookParams struct {
	PeerID    string `json:"peerId"`
	SourceIP  string `json:"sourceIP,omitempty"`
	Tag       string `json:"tag,omitempty"`
	Reconnect *int   `json:"reconnect,omitempty"` // _clientOnline: 0 or 1
	CloseCode int    `json:"closeCode,omitempty"` // _clientOffline
	CloseMsg  string `json:"closeMsg,omitempty"`
}

// _clientOffline's close codes.
const (
	closeLogout   = 1 // the session logged out
	closeDropped  = 2 // its stream stayed away past the offline grace
	closeConflict = 3 // a newer login (the same tag, or past the client's bound) replaced it
	closeKicked   = 4 // the master key ended it
)

// onlineSession is what _clientOffline tells of a session that went online.
type onlineSession struct{ clientID, tag, ip string }

// SessionOnline is told of each event stream that attaches to a session:
// when the session was offline (fresh: its first stream, or one after the
// offline grace ran out), it is online now, and _clientOnline goes out,
// with reconnect when the session had been online before (returning).
func (s *Service) SessionOnline(ctx context.Context, p Principal, fresh, returning bool) {
	if s.hooks == nil || !fresh || p.SessionID == "" {
		return
	}
	tag := ""
	if st, err := s.sessionState(ctx, p.SessionID); err == nil {
		tag = st.tag
	}
	s.online.Store(p.SessionID, onlineSession{clientID: p.ClientID, tag: tag, ip: p.IP})
	reconnect := 0
	if returning {
		reconnect = 1
	}
	s.hooks.After(hooks.ClientOnline, clientHookParams{PeerID: p.ClientID, SourceIP: p.IP, Tag: tag, Reconnect: &reconnect})
}

// wentOffline sends _clientOffline for a session that went online and has
// now ended (once: the session is forgotten).
func (s *Service) wentOffline(sessionID string, code int, msg string) {
	if s.hooks == nil {
		return
	}
	v, ok := s.online.LoadAndDelete(sessionID)
	if !ok {
		return
	}
	o := v.(onlineSession)
	params := clientHookParams{PeerID: o.clientID, Tag: o.tag, CloseCode: code, CloseMsg: msg}
	if code != closeDropped { // LeanCloud sends none on a disconnect
		params.SourceIP = o.ip
	}
	s.hooks.After(hooks.ClientOffline, params)
}

// SessionDropped is told (by the hub's OnGone, on the janitor) that a
// session's stream stayed away past the offline grace: _clientOffline with
// close code 2. It never blocks.
func (s *Service) SessionDropped(sessionID string) {
	s.wentOffline(sessionID, closeDropped, "the connection dropped")
}
