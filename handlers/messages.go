package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// SendRequest is the body of POST /v1/conversations/{id}/messages: the
// message content plus send options.
type SendRequest struct {
	Content
	Transient       bool           `json:"transient,omitempty" doc:"Deliver to online members only; never stored"`
	Receipt         bool           `json:"receipt,omitempty" doc:"Ask for a delivery receipt (one-to-one conversations: normal or temporary of two members)"`
	Will            bool           `json:"will,omitempty" doc:"Hold as the session's will message, sent only if the session drops abruptly"`
	Priority        string         `json:"priority,omitempty" enum:"high,normal,low" doc:"Chat-room delivery priority (default normal)"`
	PushData        map[string]any `json:"pushData,omitempty" doc:"Offline push content"`
	ClientMessageID string         `json:"clientMessageId,omitempty" maxLength:"128" doc:"Idempotency key: a re-send with the same key returns the original message" example:"c0ffee-1"`
}

// ValidateContent applies the message rules of the contract and returns the
// stored form of the content.
func ValidateContent(c *Content) (body []byte, err error) {
	if c.Type == nil {
		if c.Data == nil {
			return nil, fail(CodeInvalidRequest, "a message needs a type, or data for an untyped message")
		}
	} else {
		switch t := *c.Type; {
		case t == TypeText:
			if c.Text == "" {
				return nil, fail(CodeInvalidRequest, "text: required for a text message (type -1)")
			}
		case t == TypeImage || t == TypeAudio || t == TypeVideo || t == TypeFile:
			if c.File == nil || c.File.URL == "" {
				return nil, fail(CodeInvalidRequest, "file.url: required for a type %d message", t)
			}
		case t == TypeLocation:
			if c.Location == nil {
				return nil, fail(CodeInvalidRequest, "location: required for a location message (type -5)")
			}
		case t > 0:
		default:
			return nil, fail(CodeInvalidRequest, "type: %d is not a message type (-1 … -6, or positive for application types)", t)
		}
	}
	if f := c.File; f != nil {
		if err := checkFileURL(f.URL); err != nil {
			return nil, err
		}
		if f.Size < 0 {
			return nil, fail(CodeInvalidRequest, "file.size: must not be negative")
		}
	}
	if l := c.Location; l != nil {
		if !(l.Latitude >= -90 && l.Latitude <= 90) || !(l.Longitude >= -180 && l.Longitude <= 180) {
			return nil, fail(CodeInvalidRequest, "location: latitude must be in [-90, 90] and longitude in [-180, 180]")
		}
	}
	if err := checkClientIDs(c.MentionList, "mentionList"); err != nil {
		return nil, err
	}
	body, jerr := c.appendJSON(nil)
	if jerr != nil {
		return nil, fail(CodeInvalidRequest, "content cannot be encoded: %v", jerr)
	}
	if len(body) > MaxContentBytes {
		return nil, fail(CodeMessageTooLarge, "the encoded content is %d bytes; at most %d are allowed", len(body), MaxContentBytes)
	}
	return body, nil
}

// checkFileURL accepts what a message's file.url may be: an absolute
// http(s) address, or the path of a file uploaded to this server
// (/v1/files/{id}). Anything a browser might read otherwise is refused:
// backslashes (browsers take /\evil.com for //evil.com), protocol-relative
// "//host" addresses, white space, control and format characters, and every
// other scheme (javascript:, data:, file:…).
func checkFileURL(raw string) *Error {
	if !utf8.ValidString(raw) {
		return fail(CodeInvalidRequest, "file.url: not UTF-8")
	}
	for _, r := range raw {
		if r == '\\' || unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf) {
			return fail(CodeInvalidRequest, "file.url: backslashes, white space, control and format characters are not allowed (found %q)", r)
		}
	}
	if id, ok := strings.CutPrefix(raw, FilesURLPrefix); ok {
		if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return !urlSafe(r) }) {
			return fail(CodeInvalidRequest, "file.url: %s must be followed by a file id, and nothing else", FilesURLPrefix)
		}
		return nil // a file uploaded to this server
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fail(CodeInvalidRequest, "file.url: not a URL")
	case u.Scheme == "http" || u.Scheme == "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return fail(CodeInvalidRequest, "file.url: no host")
		}
	default:
		return fail(CodeInvalidRequest, "file.url: must be an http(s) address or a %s{id} path on this server", FilesURLPrefix)
	}
	return nil
}

// urlSafe reports whether r is one of the characters of ids: letters,
// digits, - and _.
func urlSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// Outcome says what became of a send.
type Outcome int

// The outcomes of a send.
const (
	Sent      Outcome = iota + 1 // stored (or, transient, delivered)
	Duplicate                    // clientMessageId matched an earlier send: that message, nothing delivered again
	Held                         // a will message, held until the session drops abruptly
)

// Send sends a message as the caller's session.
func (s *Service) Send(ctx context.Context, p Principal, convID string, req SendRequest) (*Message, Outcome, error) {
	if p.Master {
		return nil, 0, fail(CodeForbidden, "the app backend sends with POST /v1/admin/conversations/{id}/messages and a from")
	}
	if err := s.sendLimit.allow(p.ClientID, s.now()); err != nil {
		return nil, 0, err
	}
	return s.send(ctx, sender{clientID: p.ClientID, sessionID: p.SessionID, ip: p.IP}, convID, req)
}

// AdminSend sends a message with the master key as any client, into any
// conversation, membership or not. Into a system conversation it reaches
// every subscriber.
func (s *Service) AdminSend(ctx context.Context, p Principal, convID, from string, req SendRequest) (*Message, Outcome, error) {
	if !p.Master {
		return nil, 0, fail(CodeForbidden, "the master key is required")
	}
	if !ValidClientID(from) {
		return nil, 0, fail(CodeInvalidRequest, "from: %q is not a valid clientId: %s", from, ClientIDRule)
	}
	return s.send(ctx, sender{clientID: from, backend: true, ip: p.IP}, convID, req)
}

// sender is who sends a message: a client's session, or the app backend
// speaking as clientID.
type sender struct {
	clientID, sessionID string
	backend             bool
	ip                  string // where the request came from, if known (hooks' sourceIP)
}

func (s *Service) send(ctx context.Context, from sender, convID string, req SendRequest) (*Message, Outcome, error) {
	body, err := ValidateContent(&req.Content)
	if err != nil {
		return nil, 0, err
	}
	prio, ok := events.ParsePriority(req.Priority)
	if !ok {
		return nil, 0, fail(CodeInvalidRequest, "priority must be high, normal or low")
	}
	if len(req.ClientMessageID) > MaxClientMessageID {
		return nil, 0, fail(CodeInvalidRequest, "clientMessageId is longer than %d characters", MaxClientMessageID)
	}
	if req.Will {
		return s.holdWill(ctx, from, convID, req) // its hook runs when it is sent
	}
	var only peerSet // the _messageReceived hook's toPeers (hooks.go)
	if s.hooks != nil {
		if only, err = s.messageReceived(ctx, from, convID, &req); err != nil {
			return nil, 0, err
		}
		if body, err = ValidateContent(&req.Content); err != nil { // the hook may have replaced it
			return nil, 0, err
		}
	}
	if req.Transient {
		return s.sendTransient(ctx, from, convID, req, prio, only)
	}
	row := &store.Message{ConversationID: convID, From: from.clientID, Type: typeOf(&req.Content), Body: string(body)}
	if req.ClientMessageID != "" {
		row.ClientMessageID = &req.ClientMessageID
	}
	row.Mentions = mentionsOf(&req.Content)
	row.Receipt, row.Priority = req.Receipt, req.Priority
	var to audience
	var dup *store.Message
	var sent *Message
	var system bool
	content, asSent := req.Content, row.Body
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		to, dup = audience{}, nil
		conv, err := s.cache.get(tx, convID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && conv.row.ExpiresAt != nil && *conv.row.ExpiresAt <= s.nowMs()) {
			return errConversationNotFound
		}
		if err != nil {
			return err
		}
		system = conv.row.Kind == KindSystem
		// Only the writer knows the conversation without a read: words are
		// replaced here (from the content as sent, should the job run again).
		filtered, fbody, changed, err := s.filterContent(&conv.row, req.Content)
		if err != nil {
			return err
		}
		content, row.Body = req.Content, asSent
		if changed {
			content, row.Body = filtered, string(fbody)
		}
		if to, err = s.cachedAudience(conv, from); err != nil {
			return err
		}
		if conv.silencedAt(from.clientID, s.nowMs()) {
			return errMemberSilenced
		}
		row.Private = to.private
		if row.ClientMessageID != nil {
			prev, err := tx.MessageByClientID(convID, from.clientID, *row.ClientMessageID)
			if err == nil {
				dup = prev
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		row.Timestamp = s.nowMs()
		row.Seq = conv.row.LastSeq // a private message takes no seq of its own
		if !row.Private {
			row.Seq++
		}
		tx.QueueMessage(row) // inserted with the rest of the batch
		conv.sent(row)
		if to.room == "" && !to.private {
			to.oneToOne = isOneToOne(&conv.row)
			if to.recipients, err = conv.recipients(bg, tx); err != nil {
				return err
			}
			if s.push != nil {
				return s.queuePush(tx, row, pushRecipients(to.recipients, from.clientID, only), req.PushData)
			}
		}
		return nil
	}, func() {
		if s.push != nil {
			s.push.signal()
		}
		if dup == nil {
			// The content as sent is what was stored: no need to decode it.
			sent = &Message{
				ID: formatMessageID(row.MID), ConversationID: convID, From: row.From, Content: content,
				Timestamp: row.Timestamp, Priority: req.Priority, ClientMessageID: req.ClientMessageID,
			}
			to.only = only
			s.deliver(sent, to, from, prio, req.Receipt)
			if s.hooks != nil {
				s.messageSent(sent, to, from, req.Receipt, system)
			}
		}
	})
	if err != nil {
		return nil, 0, err
	}
	if dup != nil {
		return toMessage(dup), Duplicate, nil
	}
	return sent, Sent, nil
}

// pushRecipients are the members a message may be pushed to: all but its
// sender, and of them only those a hook's toPeers (only) names.
func pushRecipients(rs []store.Recipient, from string, only peerSet) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if r.ClientID != from && only.admits(r.ClientID, from) {
			out = append(out, r.ClientID)
		}
	}
	return out
}

// audience is who a message in a conversation reaches.
type audience struct {
	room       string            // a chat room: its seated sessions
	recipients []store.Recipient // otherwise: these members, with their unread state
	members    []string          // transient messages: these members
	private    bool              // a client's message to a system conversation: nobody else
	oneToOne   bool              // a normal or temporary conversation of two: receipts apply
	only       peerSet           // live delivery only to these (a hook's toPeers); nil: everyone
}

// audienceOf checks that from may send into conv and says whom a message
// reaches; the members of a stored message are read after it is inserted,
// with their unread counts.
func (s *Service) audienceOf(r store.Reader, conv *store.Conversation, from sender) (audience, error) {
	switch {
	case conv.Kind == KindChatRoom:
		if !from.backend && !s.hub.InRoom(from.sessionID, conv.ID) {
			return audience{}, fail(CodeNotAMember, "join the chat room before sending to it")
		}
		return audience{room: conv.ID}, nil
	case !from.backend:
		if err := s.requireMember(r, conv.ID, Principal{ClientID: from.clientID}); err != nil {
			return audience{}, err
		}
		if conv.Kind == KindSystem {
			return audience{private: true}, nil
		}
	}
	return audience{}, nil
}

// cachedAudience is audienceOf for the writer, from the conversation cache.
func (s *Service) cachedAudience(conv *convState, from sender) (audience, error) {
	switch {
	case conv.row.Kind == KindChatRoom:
		if !from.backend && !s.hub.InRoom(from.sessionID, conv.row.ID) {
			return audience{}, fail(CodeNotAMember, "join the chat room before sending to it")
		}
		return audience{room: conv.row.ID}, nil
	case !from.backend && !conv.isMember(from.clientID):
		return audience{}, errNotAMember
	case !from.backend && conv.row.Kind == KindSystem:
		return audience{private: true}, nil
	}
	return audience{}, nil
}

func (s *Service) sendTransient(ctx context.Context, from sender, convID string, req SendRequest, prio events.Priority, only peerSet) (*Message, Outcome, error) {
	r := s.db.R()
	conv, err := s.findConversation(ctx, r, convID)
	if err != nil {
		return nil, 0, err
	}
	to, err := s.audienceOf(r, conv, from)
	if err != nil {
		return nil, 0, err
	}
	if silenced, _, err := store.SilencedUntil(ctx, r, convID, from.clientID, s.nowMs()); err != nil || silenced {
		if err == nil {
			err = errMemberSilenced
		}
		return nil, 0, err
	}
	if to.room == "" && !to.private {
		if to.members, err = store.Members(ctx, r, convID); err != nil {
			return nil, 0, err
		}
	}
	content, _, _, err := s.filterContent(conv, req.Content)
	if err != nil {
		return nil, 0, err
	}
	now := s.nowMs()
	msg := &Message{
		ID: formatMessageID(s.db.NextMessageID(now)), ConversationID: convID, From: from.clientID,
		Content: content, Timestamp: now, Transient: true, Priority: req.Priority,
	}
	to.only = only
	s.deliver(msg, to, from, prio, false)
	if s.hooks != nil {
		s.messageSent(msg, to, from, false, conv.Kind == KindSystem)
	}
	return msg, Sent, nil
}

// deliver publishes a message to its audience except the sender's own
// session: the message event, encoded once for those it mentions and once
// for the rest, and to each other member its new unread count. With receipt
// in a one-to-one conversation, the flush of the message to the other
// member's stream is reported back to the sender.
func (s *Service) deliver(m *Message, to audience, from sender, prio events.Priority, receipt bool) {
	if to.private {
		return
	}
	// The message is encoded once; every event variant is assembled around it.
	msg, err := m.AppendJSON(nil)
	if err != nil {
		s.log.Error("encode message", "err", err)
		return
	}
	conv, _ := json.Marshal(m.ConversationID)
	plain := events.NewRaw(events.NameMessage, messageEventJSON(conv, msg, false, false))
	if to.room != "" {
		s.hub.PublishRoom(to.room, plain, prio, from.sessionID)
		return
	}
	var mentionedEv *events.Event
	variant := func(clientID string) *events.Event {
		if !mentions(m, clientID) {
			return plain
		}
		if mentionedEv == nil {
			mentionedEv = events.NewRaw(events.NameMessage, messageEventJSON(conv, msg, true, false))
			mentionedEv.OnWritten = plain.OnWritten
		}
		return mentionedEv
	}
	if m.Transient {
		for _, id := range to.members {
			if !to.only.admits(id, from.clientID) {
				continue
			}
			s.hub.PublishOnline(variant(id), []string{id}, from.sessionID)
		}
		return
	}
	if receipt && to.oneToOne {
		plain.OnWritten = s.receiptHook(m)
	}
	// Each member gets the message and its new unread count together. Members
	// in the same unread state share one encoded count event.
	type state struct {
		n int64
		m bool
	}
	counts := map[state]*events.Event{}
	if to.only != nil { // a hook's toPeers: the others get nothing live
		to.recipients = slices.DeleteFunc(slices.Clone(to.recipients), func(r store.Recipient) bool { return !to.only.admits(r.ClientID, from.clientID) })
	}
	ds := make([]events.Delivery, len(to.recipients))
	evs := make([]*events.Event, 2*len(to.recipients)) // one allocation for every pair
	for i, r := range to.recipients {
		k := state{r.Unread, r.Mentioned}
		if r.ClientID == from.clientID {
			k = state{} // sending read the conversation: the sender's other sessions go to 0
		}
		count := counts[k]
		if count == nil {
			count = events.NewRaw(events.NameUnreadMessagesCountUpdate, unreadEventJSON(conv, msg, k.n, k.m))
			counts[k] = count
		}
		pair := evs[2*i : 2*i+2 : 2*i+2]
		pair[0], pair[1] = variant(r.ClientID), count
		ds[i] = events.Delivery{ClientID: r.ClientID, Events: pair}
	}
	s.hub.PublishEach(ds, from.sessionID)
}

// mentionsOf is whom a message's content mentions, as stored: "*" for
// everyone.
func mentionsOf(c *Content) []string {
	if c.MentionAll {
		return []string{"*"}
	}
	return c.MentionList
}

// mentions reports whether m mentions clientID (its sender excepted).
func mentions(m *Message, clientID string) bool {
	return clientID != m.From && (m.MentionAll || containsString(m.MentionList, clientID))
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func typeOf(c *Content) int {
	if c.Type == nil {
		return 0
	}
	return *c.Type
}

func toMessage(row *store.Message) *Message {
	m := &Message{
		ID: messageID(row), ConversationID: row.ConversationID, From: row.From,
		Timestamp: row.Timestamp, PatchedAt: row.PatchedAt, Recalled: row.Recalled, Priority: row.Priority,
	}
	if row.ClientMessageID != nil {
		m.ClientMessageID = *row.ClientMessageID
	}
	if !row.Recalled {
		_ = json.Unmarshal([]byte(row.Body), &m.Content) // written by ValidateContent
	}
	return m
}

// HistoryRequest selects a page of history: by message ids (Before or
// After) or by times (BeforeTime, AfterTime or both, in ms), not both ways.
type HistoryRequest struct {
	Limit                 int
	Before, After         string
	BeforeTime, AfterTime *int64
	Type                  *int
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// HistoryPage is a page of messages in ascending time order.
type HistoryPage struct {
	Messages []*Message `json:"messages"`
	HasMore  bool       `json:"hasMore" doc:"More messages exist beyond this page in the direction paged"`
}

// History reads a page of a conversation's messages.
func (s *Service) History(ctx context.Context, p Principal, convID string, req HistoryRequest) (*HistoryPage, error) {
	if req.Limit == 0 {
		req.Limit = DefaultHistoryLimit
	}
	if req.Limit < 1 || req.Limit > MaxHistoryLimit {
		return nil, fail(CodeInvalidRequest, "limit must be between 1 and %d", MaxHistoryLimit)
	}
	if req.Before != "" && req.After != "" {
		return nil, fail(CodeInvalidRequest, "give before or after, not both")
	}
	if (req.Before != "" || req.After != "") && (req.BeforeTime != nil || req.AfterTime != nil) {
		return nil, fail(CodeInvalidRequest, "page by message id (before, after) or by time (beforeTime, afterTime), not both ways")
	}
	for _, t := range []struct {
		name string
		at   *int64
	}{{"beforeTime", req.BeforeTime}, {"afterTime", req.AfterTime}} {
		if t.at != nil && *t.at < 0 {
			return nil, fail(CodeInvalidRequest, "%s: milliseconds since the Unix epoch, not negative", t.name)
		}
	}
	if !p.Master {
		if err := s.historyLimit.allow(p.ClientID, s.now()); err != nil {
			return nil, err
		}
	}
	r := s.db.R()
	conv, err := s.findConversation(ctx, r, convID)
	if err != nil {
		return nil, err
	}
	member := false
	if !p.Master && conv.Kind != KindChatRoom {
		if member, err = store.IsMember(ctx, r, convID, p.ClientID); err != nil {
			return nil, err
		}
	}
	if !s.accessTo(conv, member, p).messages {
		if conv.Kind == KindChatRoom {
			return nil, fail(CodeNotAMember, "join the chat room to read its history")
		}
		return nil, errNotAMember
	}
	q := store.HistoryQuery{ConversationID: convID, Type: req.Type, Limit: req.Limit,
		BeforeTime: req.BeforeTime, AfterTime: req.AfterTime}
	if conv.Kind == KindSystem {
		q.Viewer = viewerOf(p) // other subscribers' messages are for the backend only
	}
	for _, c := range []struct {
		name, raw string
		into      *int64
	}{{"before", req.Before, &q.Before}, {"after", req.After, &q.After}} {
		if c.raw == "" {
			continue
		}
		mid, ok, err := s.messageMID(ctx, r, convID, c.raw)
		if err != nil {
			return nil, err
		}
		if ok {
			if ok, err = store.MessageVisible(ctx, r, convID, mid, q.Viewer); err != nil {
				return nil, err
			}
		}
		if !ok {
			if isDigits(c.raw) { // a time, most likely
				return nil, fail(CodeMessageNotFound, "no message %q in this conversation; %s takes a message id: to page by time, give %sTime (ms since the Unix epoch)", c.raw, c.name, c.name)
			}
			return nil, fail(CodeMessageNotFound, "no message %q in this conversation", c.raw)
		}
		*c.into = mid
	}
	rows, err := store.History(ctx, r, q)
	if err != nil {
		return nil, err
	}
	page := &HistoryPage{Messages: make([]*Message, 0, len(rows))}
	if len(rows) > req.Limit {
		// The extra row lies beyond the page in the direction of paging:
		// after it when paging forward (from after or afterTime alone),
		// else before it.
		page.HasMore = true
		if q.Forward() {
			rows = rows[:req.Limit]
		} else {
			rows = rows[1:]
		}
	}
	for i := range rows {
		page.Messages = append(page.Messages, toMessage(&rows[i]))
	}
	return page, nil
}
