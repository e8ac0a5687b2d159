package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
)

// CreateConversationRequest is the body of POST /v1/conversations.
type CreateConversationRequest struct {
	Members    []string       `json:"members,omitempty" maxItems:"500" doc:"clientIds of the other members; the caller is always a member" example:"[\"Jerry\"]"`
	Name       string         `json:"name,omitempty" maxLength:"1024" doc:"Display name" example:"Tom & Jerry"`
	Kind       string         `json:"kind,omitempty" enum:"normal,chatroom,temporary,system" doc:"Conversation kind (default normal)"`
	Unique     bool           `json:"unique,omitempty" doc:"Return the existing unique normal conversation with exactly this member set instead of creating one"`
	Attributes map[string]any `json:"attributes,omitempty" doc:"Custom attributes" example:"{\"topic\":\"cheese\"}"`
	TTL        int64          `json:"ttl,omitempty" minimum:"0" doc:"Temporary conversations: time to live in seconds"`
}

// CreateConversation creates a conversation; created is false when unique
// found an existing one.
func (s *Service) CreateConversation(ctx context.Context, p Principal, req CreateConversationRequest) (conv *Conversation, created bool, err error) {
	kind := req.Kind
	if kind == "" {
		kind = "normal"
	}
	if kind != "normal" {
		return nil, false, fail(CodeOperationNotSupported, "conversations of kind %q are not available yet", kind)
	}
	if err := checkClientIDs(req.Members, "members"); err != nil {
		return nil, false, err
	}
	if utf8.RuneCountInString(req.Name) > MaxConversationName {
		return nil, false, fail(CodeInvalidRequest, "name is longer than %d characters", MaxConversationName)
	}
	attrs, aerr := encodeAttributes(req.Attributes)
	if aerr != nil {
		return nil, false, aerr
	}
	members := append([]string(nil), req.Members...)
	if !p.Master {
		members = append(members, p.ClientID)
	}
	slices.Sort(members)
	members = slices.Compact(members)
	if len(members) == 0 {
		return nil, false, fail(CodeInvalidRequest, "members: a conversation created with the master key needs at least one member")
	}
	if len(members) > MaxNormalMembers {
		return nil, false, fail(CodeMemberLimit, "a normal conversation has at most %d members", MaxNormalMembers)
	}
	now := s.nowMs()
	row := &store.Conversation{
		ID: randomID(), Kind: kind, Name: req.Name, Creator: p.ClientID, Attributes: attrs,
		Unique: req.Unique, CreatedAt: now, UpdatedAt: now,
	}
	var existing string
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		existing = ""
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
		for _, m := range members {
			if m != p.ClientID {
				s.publish("invited", InvitedEvent{ConversationID: row.ID, InvitedBy: p.ClientID}, []string{m}, "")
			}
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
		if k == "" || strings.ContainsAny(k, ".$") {
			return "", fail(CodeInvalidRequest, "attributes: key %q must be non-empty and contain neither '.' nor '$'", k)
		}
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return "", fail(CodeInvalidRequest, "attributes: %v", err)
	}
	if len(b) > MaxAttributesBytes {
		return "", fail(CodeInvalidRequest, "attributes are larger than %d bytes", MaxAttributesBytes)
	}
	return string(b), nil
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
	members, err := store.Members(ctx, r, id)
	if err != nil {
		return nil, err
	}
	return toConversation(row, members, p), nil
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

func toConversation(row *store.Conversation, members []string, p Principal) *Conversation {
	c := &Conversation{
		ID: row.ID, Kind: row.Kind, Name: row.Name, Creator: row.Creator, Unique: row.Unique,
		CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, LastMessageAt: row.LastMessageAt,
		TTL: row.TTL, ExpiresAt: row.ExpiresAt, Members: members,
	}
	if err := json.Unmarshal([]byte(row.Attributes), &c.Attributes); err != nil || c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return c
}

// MembersRequest names clients to add or remove.
type MembersRequest struct {
	ClientIDs []string `json:"clientIds" minItems:"1" maxItems:"500" doc:"clientIds to add or remove" example:"[\"Mary\"]"`
}

// AddMembers adds clients to a conversation: they get invited, and every
// member (the added ones and the caller included) gets membersjoined.
func (s *Service) AddMembers(ctx context.Context, p Principal, id string, clientIDs []string) (*Conversation, error) {
	if err := checkClientIDs(clientIDs, "clientIds"); err != nil {
		return nil, err
	}
	return s.changeMembers(ctx, p, id, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if !p.Master {
			if ok, err := store.IsMember(bg, tx, id, p.ClientID); err != nil || !ok {
				return nil, orErr(err, errNotAMember)
			}
		}
		added, err := tx.AddMembers(id, clientIDs, s.nowMs())
		if err != nil || len(added) == 0 {
			return nil, err
		}
		if row.MemberCount+len(added) > MaxNormalMembers {
			return nil, fail(CodeMemberLimit, "a normal conversation has at most %d members", MaxNormalMembers)
		}
		all, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			for _, m := range added {
				if m != p.ClientID {
					s.publish("invited", InvitedEvent{ConversationID: id, InvitedBy: p.ClientID}, []string{m}, "")
				}
			}
			s.publish("membersjoined", MembersJoinedEvent{ConversationID: id, Members: added, InvitedBy: p.ClientID}, all, "")
		}, nil
	})
}

// RemoveMembers removes clients: they get kicked; the remaining members and
// the caller get membersleft.
func (s *Service) RemoveMembers(ctx context.Context, p Principal, id string, clientIDs []string) (*Conversation, error) {
	if err := checkClientIDs(clientIDs, "clientIds"); err != nil {
		return nil, err
	}
	return s.changeMembers(ctx, p, id, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		if !p.Master {
			if ok, err := store.IsMember(bg, tx, id, p.ClientID); err != nil || !ok {
				return nil, orErr(err, errNotAMember)
			}
		}
		removed, err := tx.RemoveMembers(id, clientIDs)
		if err != nil || len(removed) == 0 {
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
					s.publish("kicked", KickedEvent{ConversationID: id, KickedBy: p.ClientID}, []string{m}, "")
				}
			}
			s.publish("membersleft", MembersLeftEvent{ConversationID: id, Members: removed, KickedBy: p.ClientID}, told, "")
		}, nil
	})
}

// Join makes the caller a member; every member, the joiner included, gets
// membersjoined.
func (s *Service) Join(ctx context.Context, p Principal, id string) (*Conversation, error) {
	if p.Master {
		return nil, fail(CodeForbidden, "join acts as a client: log in as one")
	}
	return s.changeMembers(ctx, p, id, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		added, err := tx.AddMembers(id, []string{p.ClientID}, s.nowMs())
		if err != nil || len(added) == 0 {
			return nil, err
		}
		if row.MemberCount+1 > MaxNormalMembers {
			return nil, fail(CodeMemberLimit, "a normal conversation has at most %d members", MaxNormalMembers)
		}
		all, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			s.publish("membersjoined", MembersJoinedEvent{ConversationID: id, Members: added, InvitedBy: p.ClientID}, all, "")
		}, nil
	})
}

// Quit removes the caller; the remaining members and the quitter's own
// sessions get membersleft.
func (s *Service) Quit(ctx context.Context, p Principal, id string) (*Conversation, error) {
	if p.Master {
		return nil, fail(CodeForbidden, "quit acts as a client: log in as one")
	}
	return s.changeMembers(ctx, p, id, func(tx *store.Tx, row *store.Conversation) (func(), error) {
		removed, err := tx.RemoveMembers(id, []string{p.ClientID})
		if err != nil {
			return nil, err
		}
		if len(removed) == 0 {
			return nil, errNotAMember
		}
		rest, err := store.Members(bg, tx, id)
		if err != nil {
			return nil, err
		}
		return func() {
			s.publish("membersleft", MembersLeftEvent{ConversationID: id, Members: removed, KickedBy: p.ClientID}, append(rest, p.ClientID), "")
		}, nil
	})
}

// changeMembers runs a membership change in one write and announces it after
// the commit. change returns the announcement, or nil when nothing changed.
func (s *Service) changeMembers(ctx context.Context, p Principal, id string,
	change func(tx *store.Tx, row *store.Conversation) (func(), error)) (*Conversation, error) {
	var announce func()
	var conv *Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		announce, conv = nil, nil
		row, err := s.findConversation(bg, tx, id)
		if err != nil {
			return err
		}
		if row.Kind != "normal" {
			return fail(CodeOperationNotSupported, "membership of %s conversations cannot be changed this way", row.Kind)
		}
		if announce, err = change(tx, row); err != nil {
			return err
		}
		if announce != nil {
			if err := tx.Touch(id, s.nowMs()); err != nil {
				return err
			}
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

// MemberCount counts a conversation's members.
func (s *Service) MemberCount(ctx context.Context, p Principal, id string) (int, error) {
	row, err := s.findConversation(ctx, s.db.R(), id)
	if err != nil {
		return 0, err
	}
	return row.MemberCount, nil
}

func orErr(err error, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}
