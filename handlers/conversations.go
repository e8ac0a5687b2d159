package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/store"
)

// Conversation kinds.
const (
	KindNormal    = "normal"
	KindChatRoom  = "chatroom"
	KindTemporary = "temporary"
	KindSystem    = "system"
)

// Temporary conversations (README, "Temporary conversations").
const (
	MaxTemporaryMembers = 10
	DefaultTemporaryTTL = 24 * 60 * 60      // seconds
	MaxTemporaryTTL     = 30 * 24 * 60 * 60 // seconds
	temporaryIDPrefix   = "_tmp:"
)

// memberLimit is the most members a conversation of kind may have (0: no limit).
func memberLimit(kind string) int {
	switch kind {
	case KindNormal:
		return MaxNormalMembers
	case KindTemporary:
		return MaxTemporaryMembers
	}
	return 0
}

func memberLimitError(kind string) *Error {
	return fail(CodeMemberLimit, "a %s conversation has at most %d members", kind, memberLimit(kind))
}

// CreateConversationRequest is the body of POST /v1/conversations.
type CreateConversationRequest struct {
	Members    []string       `json:"members,omitempty" doc:"clientIds of the other members (each 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters); the caller is always a member. Not for chat rooms and system conversations" example:"[\"Jerry\"]"`
	Name       string         `json:"name,omitempty" maxLength:"1024" doc:"Display name, without control characters" example:"Tom & Jerry"`
	Kind       string         `json:"kind,omitempty" enum:"normal,chatroom,temporary,system" doc:"Conversation kind (default normal); system needs the master key"`
	Unique     bool           `json:"unique,omitempty" doc:"Normal conversations: return the existing unique conversation with exactly this member set instead of creating one"`
	Attributes map[string]any `json:"attributes,omitempty" doc:"Custom attributes" example:"{\"topic\":\"cheese\"}"`
	TTL        int64          `json:"ttl,omitempty" minimum:"0" doc:"Temporary conversations: time to live in seconds (default 1 day, at most 30 days)"`
	Signed
}

// CreateConversation creates a conversation; created is false when unique
// found an existing one. A normal or temporary conversation sends its
// members what adding them would: each member but the creator gets
// invited, and every member, the creator included, membersjoined listing
// them (the README's event table; the guides: "the same notices as an
// invitation").
func (s *Service) CreateConversation(ctx context.Context, p Principal, req CreateConversationRequest) (conv *Conversation, created bool, err error) {
	kind := req.Kind
	if kind == "" {
		kind = KindNormal
	}
	switch kind {
	case KindNormal, KindTemporary:
	case KindChatRoom, KindSystem:
		if len(req.Members) > 0 {
			return nil, false, fail(CodeInvalidRequest, "members: a %s conversation has no member list; clients join it", kind)
		}
		if kind == KindSystem && !p.Master {
			return nil, false, fail(CodeForbidden, "system conversations are created with the master key")
		}
	default:
		return nil, false, fail(CodeInvalidRequest, "kind must be normal, chatroom, temporary or system")
	}
	if req.Unique && kind != KindNormal {
		return nil, false, fail(CodeInvalidRequest, "unique applies to normal conversations only")
	}
	if req.TTL != 0 && kind != KindTemporary {
		return nil, false, fail(CodeInvalidRequest, "ttl applies to temporary conversations only")
	}
	if err := checkClientIDs(req.Members, "members"); err != nil {
		return nil, false, err
	}
	if utf8.RuneCountInString(req.Name) > MaxConversationName {
		return nil, false, fail(CodeInvalidRequest, "name is longer than %d characters", MaxConversationName)
	}
	if hasControl(req.Name) {
		return nil, false, errNameControl
	}
	attrs, aerr := encodeAttributes(req.Attributes)
	if aerr != nil {
		return nil, false, aerr
	}
	var members []string
	if kind == KindNormal || kind == KindTemporary {
		members = append(members, req.Members...)
		if !p.Master {
			members = append(members, p.ClientID)
		}
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) == 0 {
			return nil, false, fail(CodeInvalidRequest, "members: a conversation created with the master key needs at least one member")
		}
		if len(members) > memberLimit(kind) {
			return nil, false, memberLimitError(kind)
		}
	}
	// appId:clientId:sortedMemberIds:timestamp:nonce, the creator included
	// (the creator alone for a chat room).
	signed := members
	if len(signed) == 0 {
		signed = []string{p.ClientID}
	}
	nonce, err := s.conversationSignature(p, req.Signed, "", sortedIDs(signed))
	if err != nil {
		return nil, false, err
	}
	if s.hooks != nil {
		hookMembers := members // the creator included
		if len(members) == 0 && !p.Master {
			hookMembers = []string{p.ClientID} // a chat room's creator
		}
		if _, err := s.conversationHook(ctx, hooks.ConversationStart, convHookParams{
			InitBy: p.ClientID, Members: hookMembers, Attr: attrOf(&req.Name, req.Attributes),
		}); err != nil {
			return nil, false, err
		}
	}
	now := s.nowMs()
	row := &store.Conversation{
		ID: randomID(), Kind: kind, Name: req.Name, Creator: p.ClientID, Attributes: attrs,
		Unique: req.Unique, CreatedAt: now, UpdatedAt: now,
	}
	if kind == KindTemporary {
		ttl := req.TTL
		if ttl == 0 {
			ttl = DefaultTemporaryTTL
		}
		if ttl > MaxTemporaryTTL {
			return nil, false, fail(CodeInvalidRequest, "ttl: at most %d seconds (30 days)", MaxTemporaryTTL)
		}
		expires := now + ttl*1000
		row.ID, row.TTL, row.ExpiresAt = temporaryIDPrefix+row.ID, &ttl, &expires
	}
	var existing string
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		existing = ""
		if err := nonce.use(tx, now); err != nil {
			return err
		}
		if req.Unique {
			id, found, err := tx.FindUnique(members)
			if err != nil || found {
				existing = id
				return err
			}
		}
		return tx.InsertConversation(row, members)
	}, func() {
		if existing != "" {
			return
		}
		s.hooks.After(hooks.ConversationStarted, convHookParams{InitBy: p.ClientID, ConvID: row.ID})
		if kind == KindChatRoom && p.SessionID != "" {
			s.hub.JoinRoom(p.SessionID, p.ClientID, row.ID) // the creator is in the room
		}
		// The same notices as an invitation (AddMembers): each invited
		// member gets invited, then every member, the creator included,
		// membersjoined listing the invited members.
		var invited []string
		for _, m := range members {
			if m != p.ClientID {
				invited = append(invited, m)
				s.publish(events.NameInvited, InvitedEvent{ConversationID: row.ID, InvitedBy: p.ClientID}, []string{m}, "")
			}
		}
		if len(invited) > 0 {
			s.publish(events.NameMembersJoined, MembersJoinedEvent{ConversationID: row.ID, Members: invited, InvitedBy: p.ClientID}, members, "")
		}
	})
	if err != nil {
		return nil, false, err
	}
	id := row.ID
	if existing != "" {
		id = existing
	}
	conv, err = s.loadConversation(ctx, s.db.R(), id, p)
	return conv, existing == "", err
}

// encodeAttributes checks custom attributes and returns them as JSON.
func encodeAttributes(attrs map[string]any) (string, *Error) {
	for k := range attrs {
		if err := checkAttributeKey(k); err != nil {
			return "", err
		}
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	if depthOf(attrs) > MaxAttributesDepth {
		return "", fail(CodeInvalidRequest, "attributes are nested deeper than %d levels", MaxAttributesDepth)
	}
	b, err := marshalAsSent(attrs)
	if err != nil {
		return "", fail(CodeInvalidRequest, "attributes: %v", err)
	}
	if len(b) > MaxAttributesBytes {
		return "", fail(CodeInvalidRequest, "attributes are larger than %d bytes", MaxAttributesBytes)
	}
	return string(b), nil
}

// MaxAttributesDepth bounds how deep attributes nest: SQLite's JSON
// functions, which queries test attributes with, read no deeper than 1,000
// levels, and no app needs a hundredth of that.
const MaxAttributesDepth = 32

// depthOf is how deep a decoded JSON value nests (a scalar: 0).
func depthOf(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depthOf(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, depthOf(e))
		}
	default:
		return 0
	}
	return d + 1
}

func checkAttributeKey(k string) *Error {
	if k == "" || strings.ContainsAny(k, ".$\"\\") || utf8.RuneCountInString(k) > 128 {
		return fail(CodeInvalidRequest, "attributes: key %q must be 1–128 characters and contain none of . $ \" \\", k)
	}
	return nil
}

// GetConversation returns a conversation as the caller sees it.
func (s *Service) GetConversation(ctx context.Context, p Principal, id string) (*Conversation, error) {
	return s.loadConversation(ctx, s.db.R(), id, p)
}

func (s *Service) loadConversation(ctx context.Context, r store.Reader, id string, p Principal) (*Conversation, error) {
	row, err := s.findConversation(ctx, r, id)
	if err != nil {
		return nil, err
	}
	members, err := store.MembersOf(ctx, r, id)
	if err != nil {
		return nil, err
	}
	return s.toConversation(row, members, p), nil
}

// findConversation reads a conversation that exists and has not expired.
func (s *Service) findConversation(ctx context.Context, r store.Reader, id string) (*store.Conversation, error) {
	row, err := store.GetConversation(ctx, r, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errConversationNotFound
	}
	if err != nil {
		return nil, err
	}
	if row.ExpiresAt != nil && *row.ExpiresAt <= s.nowMs() {
		return nil, errConversationNotFound
	}
	return row, nil
}

// toConversation renders a conversation for p from its row and member rows,
// showing what accessTo lets p see.
func (s *Service) toConversation(row *store.Conversation, members []store.Member, p Principal) *Conversation {
	c, _ := s.listedConversation(row, members, p)
	c.storedAttributes = nil
	if err := json.Unmarshal([]byte(row.Attributes), &c.Attributes); err != nil || c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return c
}

// listedConversation is toConversation for a page of a query, only to be
// encoded: its attributes are written as stored (see
// Conversation.MarshalJSON), not decoded into Attributes. It also returns
// what p may see of the conversation, for the parts the caller adds.
func (s *Service) listedConversation(row *store.Conversation, members []store.Member, p Principal) (*Conversation, access) {
	c := &Conversation{
		storedAttributes: json.RawMessage(cmp.Or(row.Attributes, "{}")),
		ID:               row.ID, Kind: row.Kind, Name: row.Name, Creator: row.Creator, Unique: row.Unique,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, LastMessageAt: row.LastMessageAt,
		TTL: row.TTL, ExpiresAt: row.ExpiresAt,
	}
	var self *store.Member
	for i := range members {
		if !p.Master && members[i].ClientID == p.ClientID {
			self = &members[i]
		}
	}
	a := s.accessTo(row, self != nil, p)
	if self != nil {
		unread := max(row.LastSeq-self.ReadSeq, 0)
		c.UnreadCount, c.Muted = &unread, self.Muted
	}
	if !a.members || (row.Kind != KindNormal && row.Kind != KindTemporary) {
		return c, a
	}
	if members != nil {
		c.Members = make([]string, 0, len(members))
	}
	oneToOne := isOneToOne(row)
	for _, m := range members {
		if oneToOne && m.ClientID != p.ClientID {
			c.LastDeliveredAt, c.LastReadAt = m.DeliveredAt, m.ReadAt
		}
		c.Members = append(c.Members, m.ClientID)
		if m.Muted {
			c.MutedMembers = append(c.MutedMembers, m.ClientID)
		}
	}
	return c, a
}

// MembersRequest names clients to add or remove.
type MembersRequest struct {
	ClientIDs []string `json:"clientIds" minItems:"1" doc:"clientIds to add or remove, each 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters" example:"[\"Mary\"]"`
	Signed
}

// AddMembers adds clients to a conversation: they get invited, and every
// member (the added ones and the caller included) gets membersjoined.
func (s *Service) AddMembers(ctx context.Context, p Principal, id string, req MembersRequest) (*Conversation, error) {
	clientIDs := req.ClientIDs
	if len(clientIDs) > MaxNormalMembers {
		return nil, memberLimitError(KindNormal)
	}
	if err := checkClientIDs(clientIDs, "clientIds"); err != nil {
		return nil, err
	}
	nonce, err := s.conversationSignature(p, req.Signed, "invite", id, sortedIDs(clientIDs))
	if err != nil {
		return nil, err
	}
	if s.hooks != nil {
		if _, err := s.conversationHook(ctx, hooks.ConversationAdd, convHookParams{InitBy: p.ClientID, ConvID: id, Members: clientIDs}); err != nil {
			return nil, err
		}
	}
	return s.changeMembers(ctx, p, id, nonce, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if err := s.may(tx, row, p, actAddMembers); err != nil {
			return nil, err
		}
		if err := checkNotBlocked(tx, id, clientIDs); err != nil {
			return nil, err
		}
		added, err := tx.AddMembers(id, clientIDs, s.nowMs())
		if err != nil || len(added) == 0 {
			return nil, err
		}
		if row.MemberCount+len(added) > memberLimit(row.Kind) {
			return nil, memberLimitError(row.Kind)
		}
		all, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			for _, m := range added {
				if m != p.ClientID {
					s.publish(events.NameInvited, InvitedEvent{ConversationID: id, InvitedBy: p.ClientID}, []string{m}, "")
				}
			}
			s.publish(events.NameMembersJoined, MembersJoinedEvent{ConversationID: id, Members: added, InvitedBy: p.ClientID}, all, "")
			s.hooks.After(hooks.ConversationAdded, convHookParams{InitBy: p.ClientID, ConvID: id, Members: added})
		}, nil
	})
}

// RemoveMembers removes clients: they get kicked; the remaining members and
// the caller get membersleft.
func (s *Service) RemoveMembers(ctx context.Context, p Principal, id string, req MembersRequest) (*Conversation, error) {
	clientIDs := req.ClientIDs
	if len(clientIDs) > MaxNormalMembers {
		return nil, fail(CodeInvalidRequest, "clientIds: at most %d at a time", MaxNormalMembers)
	}
	// The master key may remove members whose ids predate the clientId
	// rule (a ':' in them, say), which nobody could remove otherwise; it
	// signs nothing, so no signed string can be read two ways.
	if p.Master {
		for _, c := range clientIDs {
			if c == "" || utf8.RuneCountInString(c) > MaxClientIDLen {
				return nil, fail(CodeInvalidRequest, "clientIds: %q is no member's id", c)
			}
		}
	} else if err := checkClientIDs(clientIDs, "clientIds"); err != nil {
		return nil, err
	}
	nonce, err := s.conversationSignature(p, req.Signed, "kick", id, sortedIDs(clientIDs))
	if err != nil {
		return nil, err
	}
	if s.hooks != nil {
		if _, err := s.conversationHook(ctx, hooks.ConversationRemove, convHookParams{InitBy: p.ClientID, ConvID: id, Members: clientIDs}); err != nil {
			return nil, err
		}
	}
	return s.changeMembers(ctx, p, id, nonce, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if err := s.may(tx, row, p, actRemoveMembers); err != nil {
			return nil, err
		}
		book, err := s.rolesOf(bg, tx, row)
		if err != nil {
			return nil, err
		}
		if err := book.checkActOn(p, clientIDs, actRemove); err != nil {
			return nil, err
		}
		removed, err := tx.RemoveMembers(id, clientIDs)
		if err != nil || len(removed) == 0 {
			return nil, err
		}
		if err := tx.ForgetRoles(id, removed); err != nil {
			return nil, err
		}
		rest, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		told := rest
		if !p.Master && !slices.Contains(rest, p.ClientID) {
			told = append(told, p.ClientID) // the caller removed itself
		}
		return func() {
			for _, m := range removed {
				if m != p.ClientID {
					s.publish(events.NameKicked, KickedEvent{ConversationID: id, KickedBy: p.ClientID}, []string{m}, "")
				}
			}
			s.publish(events.NameMembersLeft, MembersLeftEvent{ConversationID: id, Members: removed, KickedBy: p.ClientID}, told, "")
			s.hooks.After(hooks.ConversationRemoved, convHookParams{InitBy: p.ClientID, ConvID: id, Members: removed})
		}, nil
	})
}

// requireMember fails unless p is a member of the conversation or holds the
// master key.
func (s *Service) requireMember(r store.Reader, convID string, p Principal) error {
	if p.Master {
		return nil
	}
	ok, err := store.IsMember(bg, r, convID, p.ClientID)
	if err != nil {
		return err
	}
	if !ok {
		return errNotAMember
	}
	return nil
}

// Join makes the caller a member. In a normal conversation every member, the
// joiner included, gets membersjoined; in a chat room the session takes a
// seat (leaving any other room); in a system conversation the client
// subscribes.
func (s *Service) Join(ctx context.Context, p Principal, id string, sig Signed) (*Conversation, error) {
	if err := refuseMaster(p, actJoin); err != nil {
		return nil, err
	}
	nonce, err := s.conversationSignature(p, sig, "invite", id, p.ClientID)
	if err != nil {
		return nil, err
	}
	joined := convHookParams{InitBy: p.ClientID, ConvID: id, Members: []string{p.ClientID}}
	if s.hooks != nil {
		if _, err := s.conversationHook(ctx, hooks.ConversationAdd, joined); err != nil {
			return nil, err
		}
	}
	return s.changeMembers(ctx, p, id, nonce, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if err := s.may(tx, row, p, actJoin); err != nil {
			return nil, err
		}
		switch row.Kind {
		case KindChatRoom:
			return func() {
				s.hub.JoinRoom(p.SessionID, p.ClientID, id)
				s.hooks.After(hooks.ConversationAdded, joined)
			}, nil
		case KindNormal:
			if err := s.mayJoin(tx, row, p, sig); err != nil {
				return nil, err
			}
		}
		added, err := tx.AddMembers(id, []string{p.ClientID}, s.nowMs())
		if err != nil || len(added) == 0 {
			return nil, err
		}
		if limit := memberLimit(row.Kind); limit > 0 && row.MemberCount+1 > limit {
			return nil, memberLimitError(row.Kind)
		}
		if row.Kind == KindSystem {
			return func() { s.hooks.After(hooks.ConversationAdded, joined) }, nil
		}
		all, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			s.publish(events.NameMembersJoined, MembersJoinedEvent{ConversationID: id, Members: added, InvitedBy: p.ClientID}, all, "")
			s.hooks.After(hooks.ConversationAdded, joined)
		}, nil
	})
}

// Quit removes the caller; in a normal or temporary conversation the
// remaining members and the caller's own sessions get membersleft.
func (s *Service) Quit(ctx context.Context, p Principal, id string) (*Conversation, error) {
	if err := refuseMaster(p, actQuit); err != nil {
		return nil, err
	}
	left := convHookParams{InitBy: p.ClientID, ConvID: id, Members: []string{p.ClientID}} // _conversationRemoved; no before-hook for quitting
	return s.changeMembers(ctx, p, id, nil, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if row.Kind == KindChatRoom {
			if !s.hub.InRoom(p.SessionID, id) {
				return nil, errNotAMember
			}
			return func() {
				s.hub.LeaveRoom(p.SessionID, id)
				s.hooks.After(hooks.ConversationRemoved, left)
			}, nil
		}
		removed, err := tx.RemoveMembers(id, []string{p.ClientID})
		if err != nil {
			return nil, err
		}
		if len(removed) == 0 {
			return nil, errNotAMember
		}
		if row.Kind == KindSystem {
			return func() { s.hooks.After(hooks.ConversationRemoved, left) }, nil
		}
		rest, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			s.publish(events.NameMembersLeft, MembersLeftEvent{ConversationID: id, Members: removed, KickedBy: p.ClientID}, append(rest, p.ClientID), "")
			s.hooks.After(hooks.ConversationRemoved, left)
		}, nil
	})
}

// changeMembers runs a membership change in one write, which also records
// the nonce of its signature, if any, and announces it after the commit.
// change returns the announcement, or nil when nothing changed.
func (s *Service) changeMembers(ctx context.Context, p Principal, id string, nonce *signedNonce,
	change func(tx *store.Tx, row *store.Conversation) (func(), error)) (*Conversation, error) {
	var announce func()
	var conv *Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		announce, conv = nil, nil
		if err := nonce.use(tx, s.nowMs()); err != nil {
			return err
		}
		row, err := s.findConversation(bg, tx, id)
		if err != nil {
			return err
		}
		if announce, err = change(tx, row); err != nil {
			return err
		}
		if announce != nil && row.Kind != KindChatRoom {
			if err := tx.Touch(id, s.nowMs()); err != nil {
				return err
			}
			s.cache.forget(id)
		}
		conv, err = s.loadConversation(bg, tx, id, p)
		return err
	}, func() {
		if announce != nil {
			announce()
		}
	})
	return conv, err
}

// MemberCount counts a conversation's members; for a chat room, the clients
// online in it now.
func (s *Service) MemberCount(ctx context.Context, p Principal, id string) (int, error) {
	row, err := s.findConversation(ctx, s.db.R(), id)
	if err != nil {
		return 0, err
	}
	if row.Kind == KindChatRoom {
		return s.hub.RoomOnline(id), nil
	}
	return row.MemberCount, nil
}

func orErr(err error, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
