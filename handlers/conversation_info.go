package handlers

import (
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/store"
)

// UpdateConversationRequest is the body of PATCH /v1/conversations/{id}.
type UpdateConversationRequest struct {
	Name       *string        `json:"name,omitempty" maxLength:"1024" doc:"New display name, without control characters"`
	Attributes map[string]any `json:"attributes,omitempty" doc:"Attributes to merge in; a key set to null is removed" example:"{\"topic\":\"mice\",\"old\":null}"`
}

// InfoUpdatedEvent tells members that a conversation's name or attributes
// changed; it carries the state after the change.
type InfoUpdatedEvent struct {
	ConversationID string         `json:"conversationId"`
	Attributes     map[string]any `json:"attributes"`
	Name           string         `json:"name"`
	UpdatedBy      string         `json:"updatedBy"`
}

// UpdateConversation renames a conversation and merges attributes into it
// (null removes a key). Members of normal conversations, seated sessions of
// chat rooms and the master key may; everyone concerned gets infoupdated.
func (s *Service) UpdateConversation(ctx context.Context, p Principal, id string, req UpdateConversationRequest) (*Conversation, error) {
	if err := checkUpdate(&req); err != nil {
		return nil, err
	}
	if s.hooks != nil {
		if err := s.updateConversationHook(ctx, p, id, &req); err != nil {
			return nil, err
		}
	}
	var conv *Conversation
	var announce func()
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		conv, announce = nil, nil
		row, err := s.findConversation(bg, tx, id)
		if err != nil {
			return err
		}
		if err := s.may(tx, row, p, actUpdate); err != nil {
			return err
		}
		attrs := map[string]any{}
		if err := json.Unmarshal([]byte(row.Attributes), &attrs); err != nil || attrs == nil {
			attrs = map[string]any{}
		}
		for k, v := range req.Attributes {
			if v == nil {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		encoded, aerr := encodeAttributes(attrs)
		if aerr != nil {
			return aerr
		}
		name := row.Name
		if req.Name != nil {
			name = *req.Name
		}
		if err := tx.UpdateInfo(id, name, encoded, s.nowMs()); err != nil {
			return err
		}
		if conv, err = s.loadConversation(bg, tx, id, p); err != nil {
			return err
		}
		data := InfoUpdatedEvent{ConversationID: id, Attributes: conv.Attributes, Name: name, UpdatedBy: p.ClientID}
		if row.Kind == KindChatRoom {
			announce = func() {
				if ev, err := events.New(events.NameInfoUpdated, data); err == nil {
					s.hub.PublishRoom(id, ev, events.PriorityHigh, "")
				}
			}
			return nil
		}
		members, err := store.Members(bg, tx, id)
		announce = func() { s.publish(events.NameInfoUpdated, data, members, "") }
		return err
	}, func() {
		if announce != nil {
			announce()
		}
	})
	return conv, err
}

// checkUpdate applies the rules of names and attribute keys to a change.
func checkUpdate(req *UpdateConversationRequest) *Error {
	if req.Name != nil && utf8.RuneCountInString(*req.Name) > MaxConversationName {
		return fail(CodeInvalidRequest, "name is longer than %d characters", MaxConversationName)
	}
	if req.Name != nil && hasControl(*req.Name) {
		return errNameControl
	}
	for k := range req.Attributes {
		if err := checkAttributeKey(k); err != nil {
			return err
		}
	}
	return nil
}

// Mute stops (or, with muted false, restarts) offline push of a
// conversation for the caller.
func (s *Service) Mute(ctx context.Context, p Principal, id string, muted bool) (*Conversation, error) {
	if err := refuseMaster(p, actMute); err != nil {
		return nil, err
	}
	if s.hooks != nil {
		res, err := s.conversationHook(ctx, hooks.ConversationUpdate, convHookParams{InitBy: p.ClientID, ConvID: id, Mute: &muted})
		if err != nil {
			return nil, err
		}
		if res != nil && res.Mute != nil {
			muted = *res.Mute
		}
	}
	var conv *Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		conv = nil
		row, err := s.findConversation(bg, tx, id)
		if err != nil {
			return err
		}
		if err := s.may(tx, row, p, actMute); err != nil {
			return err
		}
		ok, err := tx.SetMuted(id, p.ClientID, muted)
		if err != nil {
			return err
		}
		if !ok {
			return errNotAMember
		}
		conv, err = s.loadConversation(bg, tx, id, p)
		return err
	}, nil)
	return conv, err
}
