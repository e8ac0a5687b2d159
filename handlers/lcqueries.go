package handlers

// Queries that LeanCloud's realtime protocol asks and the HTTP API has no
// operation of its own for (the gateway's conv/max_read and conv/is_member).

import (
	"context"

	"github.com/parley-im/parley/store"
)

// ReadPosition is how far a member has received and read a conversation
// (ms since the Unix epoch; nil: nothing yet).
type ReadPosition struct {
	ClientID    string
	DeliveredAt *int64
	ReadAt      *int64
}

// ReadPositions lists how far every member of a normal or temporary
// conversation has received and read it, the caller included (LeanCloud's
// conv/max_read). Who may see it is accessTo's rule for the other members'
// read positions: members and the master key.
func (s *Service) ReadPositions(ctx context.Context, p Principal, id string) ([]ReadPosition, error) {
	r := s.db.R()
	row, err := s.findConversation(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if row.Kind != KindNormal && row.Kind != KindTemporary {
		return nil, fail(CodeOperationNotSupported, "a %s conversation has no receipts", row.Kind)
	}
	members, err := store.MembersOf(ctx, r, id)
	if err != nil {
		return nil, err
	}
	member := false
	for _, m := range members {
		member = member || (!p.Master && m.ClientID == p.ClientID)
	}
	if !s.accessTo(row, member, p).members {
		return nil, errNotAMember
	}
	out := make([]ReadPosition, len(members))
	for i, m := range members {
		out[i] = ReadPosition{ClientID: m.ClientID, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt}
	}
	return out, nil
}

// IsMember reports whether the caller is in a conversation: a member, a
// subscriber of a system conversation, a session seated in a chat room
// (LeanCloud's conv/is_member). Anyone may ask about itself.
func (s *Service) IsMember(ctx context.Context, p Principal, id string) (bool, error) {
	if p.Master {
		return false, fail(CodeForbidden, "is_member acts as a client: log in as one")
	}
	r := s.db.R()
	row, err := s.findConversation(ctx, r, id)
	if err != nil {
		return false, err
	}
	if row.Kind == KindChatRoom {
		return s.hub.InRoom(p.SessionID, id), nil
	}
	return store.IsMember(ctx, r, id, p.ClientID)
}
