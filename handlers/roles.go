package handlers

import (
	"context"
	"slices"
	"sort"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// Roles, silenced and blocked members (README, "Roles"). Who may act on
// whom is decided in one place, mayActOn; the operations below ask it.

// Member roles.
const (
	RoleOwner   = "owner"
	RoleManager = "manager"
	RoleMember  = "member"
)

// Limits of silence and block, as LeanCloud's.
const (
	MaxSilenced        = 500
	MaxBlocked         = 10_000
	MaxSilenceTTL      = 24 * 60 * 60 // seconds
	defaultMemberPage  = 100
	maxMembersPerBatch = 50
)

// roleBook is a conversation's roles: the stored ones, the creator the
// owner unless a stored row names another.
type roleBook struct {
	creator string
	stored  map[string]string
	infoIDs map[string]string // clientId → LeanCloud's objectId of its imported role row
	owner   string
}

func (s *Service) rolesOf(ctx context.Context, r store.Reader, row *store.Conversation) (*roleBook, error) {
	rows, err := store.Roles(ctx, r, row.ID)
	if err != nil {
		return nil, err
	}
	b := &roleBook{creator: row.Creator, stored: make(map[string]string, len(rows)), infoIDs: map[string]string{}}
	for _, x := range rows {
		b.stored[x.ClientID] = x.Role
		if x.InfoID != "" {
			b.infoIDs[x.ClientID] = x.InfoID
		}
		if x.Role == RoleOwner {
			b.owner = x.ClientID
		}
	}
	if b.owner == "" {
		b.owner = row.Creator
	}
	return b, nil
}

func (b *roleBook) of(clientID string) string {
	if clientID == b.owner {
		return RoleOwner
	}
	if r, ok := b.stored[clientID]; ok && r != RoleOwner {
		return r
	}
	return RoleMember
}

// callerRole is p's role ("" for the master key).
func (b *roleBook) callerRole(p Principal) string {
	if p.Master {
		return ""
	}
	return b.of(p.ClientID)
}

// checkActOn fails with FORBIDDEN unless p may act on every target.
func (b *roleBook) checkActOn(p Principal, targets []string, act memberAction) error {
	actor := b.callerRole(p)
	for _, t := range targets {
		if t == p.ClientID && act == actRemove {
			continue // leaving is quitting
		}
		if !mayActOn(p, actor, b.of(t), act) {
			return fail(CodeForbidden, "a %s may not do that to %s, a %s", actor, t, b.of(t))
		}
	}
	return nil
}

// MemberInfo is a member with its role.
type MemberInfo struct {
	ClientID      string `json:"clientId" example:"Jerry"`
	Role          string `json:"role" enum:"owner,manager,member" example:"member"`
	SilencedUntil *int64 `json:"silencedUntil,omitempty" doc:"Silenced until then (ms since the Unix epoch); -1: until lifted; absent: not silenced" example:"1795453200000"`
	// InfoID is the objectId of the member's imported LeanCloud role row
	// (_ConversationMemberInfo), which LeanCloud's REST API names it by;
	// "" when none was imported.
	InfoID string `json:"-"`
}

// roleConversation finds a conversation whose roles p may read: a member
// (or a seated client of a chat room) or the master key.
func (s *Service) roleConversation(ctx context.Context, r store.Reader, p Principal, id string) (*store.Conversation, error) {
	row, err := s.findConversation(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if err := s.may(r, row, p, actRoles); err != nil {
		return nil, err
	}
	return row, nil
}

// ListMembers lists the members (a chat room's seated clients) with their
// roles and silences.
func (s *Service) ListMembers(ctx context.Context, p Principal, id string) ([]MemberInfo, error) {
	r := s.db.R()
	row, err := s.roleConversation(ctx, r, p, id)
	if err != nil {
		return nil, err
	}
	var ids []string
	if row.Kind == KindChatRoom {
		ids = s.hub.RoomClients(id)
	} else if ids, err = store.Members(ctx, r, id); err != nil {
		return nil, err
	}
	book, err := s.rolesOf(ctx, r, row)
	if err != nil {
		return nil, err
	}
	silenced, err := store.Silenced(ctx, r, id, s.nowMs(), "", MaxSilenced+1)
	if err != nil {
		return nil, err
	}
	until := map[string]int64{}
	for _, x := range silenced {
		until[x.ClientID] = -1
		if x.Until != nil {
			until[x.ClientID] = *x.Until
		}
	}
	out := make([]MemberInfo, 0, len(ids))
	for _, c := range ids {
		m := MemberInfo{ClientID: c, Role: book.of(c), InfoID: book.infoIDs[c]}
		if u, ok := until[c]; ok {
			m.SilencedUntil = &u
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Role) > rank(out[j].Role) })
	return out, nil
}

// MemberInfoEvent is the data of memberinfoupdated.
type MemberInfoEvent struct {
	ConversationID string `json:"conversationId"`
	Member         string `json:"member"`
	Role           string `json:"role"`
	UpdatedBy      string `json:"updatedBy"`
}

// SetRole sets a member's role; only the owner (or the master key) may.
// Making another member the owner hands ownership over: the old owner
// becomes a manager.
func (s *Service) SetRole(ctx context.Context, p Principal, id, clientID, role string) (*MemberInfo, error) {
	switch role {
	case RoleOwner, RoleManager, RoleMember:
	default:
		return nil, fail(CodeInvalidRequest, "role must be owner, manager or member")
	}
	var notify []string
	var changes []MemberInfoEvent
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		notify, changes = nil, nil
		row, err := s.roleConversation(bg, tx, p, id)
		if err != nil {
			return err
		}
		members, err := s.roleMembers(tx, row)
		if err != nil {
			return err
		}
		if !slices.Contains(members, clientID) {
			return fail(CodeNotAMember, "%s is not a member of this conversation", clientID)
		}
		book, err := s.rolesOf(bg, tx, row)
		if err != nil {
			return err
		}
		if err := book.checkActOn(p, []string{clientID}, actSetRole); err != nil {
			return err
		}
		old := book.of(clientID)
		if old == role {
			return nil
		}
		now := s.nowMs()
		if old == RoleOwner {
			return fail(CodeForbidden, "the owner stays owner until it hands ownership to another member")
		}
		if role == RoleOwner && book.owner != "" {
			if err := tx.SetRole(id, book.owner, RoleManager, now); err != nil {
				return err
			}
			changes = append(changes, MemberInfoEvent{ConversationID: id, Member: book.owner, Role: RoleManager, UpdatedBy: p.ClientID})
		}
		if err := tx.SetRole(id, clientID, role, now); err != nil {
			return err
		}
		changes = append(changes, MemberInfoEvent{ConversationID: id, Member: clientID, Role: role, UpdatedBy: p.ClientID})
		notify = members
		return nil
	}, func() {
		for _, c := range changes {
			s.publish(events.NameMemberInfoUpdated, c, notify, "")
		}
	})
	if err != nil {
		return nil, err
	}
	return &MemberInfo{ClientID: clientID, Role: role}, nil
}

// roleMembers are who holds a role: members, or a chat room's seated clients.
func (s *Service) roleMembers(r store.Reader, row *store.Conversation) ([]string, error) {
	if row.Kind == KindChatRoom {
		return s.hub.RoomClients(row.ID), nil
	}
	return store.Members(bg, r, row.ID)
}

// ClientList is a page of clientIds: silenced or blocked ones.
type ClientList struct {
	ClientIDs []string `json:"clientIds" example:"[\"Mary\"]"`
	Next      string   `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last" example:"Mary"`
}

// SilenceRequest silences members.
type SilenceRequest struct {
	ClientIDs []string `json:"clientIds" minItems:"1" maxItems:"50" doc:"Members to silence" example:"[\"Mary\"]"`
	TTL       int64    `json:"ttl,omitempty" minimum:"0" maximum:"86400" doc:"Seconds to stay silenced, at most 24 h; 0 or absent: until lifted" example:"3600"`
}

// ClientsRequest names clients to unsilence, block or unblock.
type ClientsRequest struct {
	ClientIDs []string `json:"clientIds" minItems:"1" maxItems:"50" doc:"clientIds" example:"[\"Mary\"]"`
	Signed
}

// MembersActionEvent is the data of membersmuted, membersunmuted,
// membersblocked and membersunblocked.
type MembersActionEvent struct {
	ConversationID string   `json:"conversationId"`
	Members        []string `json:"members"`
	By             string   `json:"by"`
}

// TargetEvent is the data of muted, unmuted, blocked and unblocked, to
// their target.
type TargetEvent struct {
	ConversationID string `json:"conversationId"`
	By             string `json:"by"`
}

func checkTargets(ids []string) error {
	if len(ids) == 0 || len(ids) > maxMembersPerBatch {
		return fail(CodeInvalidRequest, "clientIds: 1 to %d", maxMembersPerBatch)
	}
	if err := checkClientIDs(ids, "clientIds"); err != nil {
		return err
	}
	return nil
}

// Silence silences members for ttl seconds (0: until lifted).
func (s *Service) Silence(ctx context.Context, p Principal, id string, req SilenceRequest) (*ClientList, error) {
	if err := checkTargets(req.ClientIDs); err != nil {
		return nil, err
	}
	if req.TTL < 0 || req.TTL > MaxSilenceTTL {
		return nil, fail(CodeInvalidRequest, "ttl: 0 (until lifted) to %d seconds (24 h)", MaxSilenceTTL)
	}
	return s.memberAction(ctx, p, id, req.ClientIDs, actSilence, nil, func(tx *store.Tx, row *store.Conversation, targets []string, now int64) error {
		var until *int64
		if req.TTL > 0 {
			u := now + req.TTL*1000
			until = &u
		}
		if err := tx.Silence(id, targets, until, p.ClientID, now); err != nil {
			return err
		}
		n, err := store.CountSilenced(bg, tx, id, now)
		if err == nil && n > MaxSilenced {
			return fail(CodeMemberLimit, "at most %d members are silenced at once", MaxSilenced)
		}
		return err
	}, events.NameMembersMuted, events.NameMuted)
}

// Unsilence lifts members' silence.
func (s *Service) Unsilence(ctx context.Context, p Principal, id string, req ClientsRequest) (*ClientList, error) {
	if err := checkTargets(req.ClientIDs); err != nil {
		return nil, err
	}
	return s.memberAction(ctx, p, id, req.ClientIDs, actSilence, nil, func(tx *store.Tx, _ *store.Conversation, targets []string, _ int64) error {
		return tx.Unsilence(id, targets)
	}, events.NameMembersUnmuted, events.NameUnmuted)
}

// Block removes clients and keeps them out. In signature mode it is signed
// as LeanCloud signs it: appId:clientId:conversationId:sortedTargets:
// timestamp:nonce:conversation-block-clients.
func (s *Service) Block(ctx context.Context, p Principal, id string, req ClientsRequest) (*ClientList, error) {
	if err := checkTargets(req.ClientIDs); err != nil {
		return nil, err
	}
	nonce, err := s.conversationSignature(p, req.Signed, "conversation-block-clients", id, sortedIDs(req.ClientIDs))
	if err != nil {
		return nil, err
	}
	return s.memberAction(ctx, p, id, req.ClientIDs, actBlock, nonce, func(tx *store.Tx, row *store.Conversation, targets []string, now int64) error {
		if err := tx.Block(id, targets, p.ClientID, now); err != nil {
			return err
		}
		if n, err := store.CountBlocked(bg, tx, id); err != nil || n > MaxBlocked {
			if err == nil {
				err = fail(CodeMemberLimit, "at most %d clients are blocked in a conversation", MaxBlocked)
			}
			return err
		}
		if row.Kind == KindChatRoom {
			return nil // their seats go after the commit
		}
		if _, err := tx.RemoveMembers(id, targets); err != nil {
			return err
		}
		s.cache.forget(id)
		return tx.ForgetRoles(id, targets)
	}, events.NameMembersBlocked, events.NameBlocked)
}

// Unblock lets blocked clients in again (signed like Block, with
// conversation-unblock-clients).
func (s *Service) Unblock(ctx context.Context, p Principal, id string, req ClientsRequest) (*ClientList, error) {
	if err := checkTargets(req.ClientIDs); err != nil {
		return nil, err
	}
	nonce, err := s.conversationSignature(p, req.Signed, "conversation-unblock-clients", id, sortedIDs(req.ClientIDs))
	if err != nil {
		return nil, err
	}
	return s.memberAction(ctx, p, id, req.ClientIDs, actBlock, nonce, func(tx *store.Tx, _ *store.Conversation, targets []string, _ int64) error {
		return tx.Unblock(id, targets)
	}, events.NameMembersUnblocked, events.NameUnblocked)
}

// memberAction runs a silence or block change: the caller's role must be
// above every target's (checked against the roles now; a blocked client's
// role is that of a member), then change runs, and the others and the
// targets are told.
func (s *Service) memberAction(ctx context.Context, p Principal, id string, targets []string, act memberAction, nonce *signedNonce,
	change func(*store.Tx, *store.Conversation, []string, int64) error, othersEv, targetEv events.Name) (*ClientList, error) {
	var others []string
	var room string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		others, room = nil, ""
		if err := nonce.use(tx, s.nowMs()); err != nil {
			return err
		}
		row, err := s.roleConversation(bg, tx, p, id)
		if err != nil {
			return err
		}
		if row.Kind == KindChatRoom {
			room = id
		}
		book, err := s.rolesOf(bg, tx, row)
		if err != nil {
			return err
		}
		if err := book.checkActOn(p, targets, act); err != nil {
			return err
		}
		members, err := s.roleMembers(tx, row)
		if err != nil {
			return err
		}
		if err := change(tx, row, targets, s.nowMs()); err != nil {
			return err
		}
		s.cache.forget(id) // its silenced list changed
		for _, m := range members {
			if !slices.Contains(targets, m) {
				others = append(others, m)
			}
		}
		return nil
	}, func() {
		if targetEv == events.NameBlocked && room != "" {
			s.hub.LeaveClientsFromRoom(room, targets)
		}
		s.publish(othersEv, MembersActionEvent{ConversationID: id, Members: targets, By: p.ClientID}, others, "")
		s.publish(targetEv, TargetEvent{ConversationID: id, By: p.ClientID}, targets, "")
	})
	if err != nil {
		return nil, err
	}
	if act == actBlock {
		return s.ListBlocked(ctx, p, id, "")
	}
	return s.ListSilenced(ctx, p, id, "")
}

// ListSilenced pages the members silenced now.
func (s *Service) ListSilenced(ctx context.Context, p Principal, id, after string) (*ClientList, error) {
	r := s.db.R()
	if _, err := s.roleConversation(ctx, r, p, id); err != nil {
		return nil, err
	}
	rows, err := store.Silenced(ctx, r, id, s.nowMs(), after, defaultMemberPage+1)
	if err != nil {
		return nil, err
	}
	out := &ClientList{ClientIDs: []string{}}
	for _, x := range rows {
		out.ClientIDs = append(out.ClientIDs, x.ClientID)
	}
	return page(out), nil
}

// ListBlocked pages the clients blocked.
func (s *Service) ListBlocked(ctx context.Context, p Principal, id, after string) (*ClientList, error) {
	r := s.db.R()
	if _, err := s.roleConversation(ctx, r, p, id); err != nil {
		return nil, err
	}
	ids, err := store.Blocked(ctx, r, id, after, defaultMemberPage+1)
	if err != nil {
		return nil, err
	}
	return page(&ClientList{ClientIDs: ids}), nil
}

func page(l *ClientList) *ClientList {
	if len(l.ClientIDs) > defaultMemberPage {
		l.ClientIDs = l.ClientIDs[:defaultMemberPage]
		l.Next = l.ClientIDs[len(l.ClientIDs)-1]
	}
	return l
}

// errClientBlocked refuses a blocked client a way in.
func errClientBlocked(ids []string) error {
	return fail(CodeClientBlocked, "blocked in this conversation: %v", ids)
}

// checkNotBlocked fails with CLIENT_BLOCKED when any of ids is blocked.
func checkNotBlocked(r store.Reader, convID string, ids []string) error {
	blocked, err := store.BlockedAmong(bg, r, convID, ids)
	if err != nil {
		return err
	}
	if len(blocked) > 0 {
		return errClientBlocked(blocked)
	}
	return nil
}

// errMemberSilenced refuses a silenced member's message.
var errMemberSilenced = fail(CodeMemberSilenced, "you are silenced in this conversation")
