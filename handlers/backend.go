package handlers

import (
	"context"

	"github.com/parley-im/parley/hooks"
	"github.com/parley-im/parley/store"
)

// Operations only the app backend (the master key) does, which LeanCloud's
// server REST API offers: deleting a conversation or one stored message,
// and managing a system conversation's subscribers for them.

func requireMaster(p Principal) error {
	if !p.Master {
		return fail(CodeForbidden, "the master key is required")
	}
	return nil
}

// ConversationKind is a conversation's kind, read without its member list
// (which a system conversation's subscribers make long), for the master
// key's routing of LeanCloud's paths by kind.
func (s *Service) ConversationKind(ctx context.Context, p Principal, id string) (string, error) {
	if err := requireMaster(p); err != nil {
		return "", err
	}
	row, err := s.findConversation(ctx, s.db.R(), id)
	if err != nil {
		return "", err
	}
	return row.Kind, nil
}

// DeleteConversation deletes a conversation with everything it holds:
// members, messages, roles, silences and blocks. Nobody is told (LeanCloud's
// DELETE tells no client either); a chat room's seated sessions leave it.
func (s *Service) DeleteConversation(ctx context.Context, p Principal, id string) error {
	if err := requireMaster(p); err != nil {
		return err
	}
	var room bool
	return s.db.Write(ctx, func(tx *store.Tx) error {
		row, err := s.findConversation(bg, tx, id)
		if err != nil {
			return err
		}
		room = row.Kind == KindChatRoom
		s.cache.forget(id)
		_, err = tx.DeleteConversation(id)
		return err
	}, func() {
		if room {
			s.hub.LeaveClientsFromRoom(id, s.hub.RoomClients(id))
		}
	})
}

// DeleteMessage deletes one stored message: it is gone from history, for
// everyone. Clients that hold it already keep it and are not told
// (LeanCloud: "only deletes the server's copy").
func (s *Service) DeleteMessage(ctx context.Context, p Principal, convID, messageID string) error {
	if err := requireMaster(p); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := s.findConversation(bg, tx, convID); err != nil {
			return err
		}
		mid, ok, err := s.messageMID(bg, tx, convID, messageID)
		if err == nil && ok {
			ok, err = tx.DeleteMessage(convID, mid)
		}
		if err != nil {
			return err
		}
		if !ok {
			return fail(CodeMessageNotFound, "no message %q in this conversation", messageID)
		}
		s.cache.forget(convID) // it may have held the conversation's only mention
		return nil
	}, nil)
}

// systemConversation finds a system conversation for a subscriber
// operation of the master key.
func (s *Service) systemConversation(ctx context.Context, r store.Reader, p Principal, id string) (*store.Conversation, error) {
	if err := requireMaster(p); err != nil {
		return nil, err
	}
	row, err := s.findConversation(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if row.Kind != KindSystem {
		return nil, fail(CodeOperationNotSupported, "a %s conversation has no subscribers", row.Kind)
	}
	return row, nil
}

// Subscribe subscribes a client to a system conversation for it, as its
// joining would (the _conversationAdd hook asked first, _conversationAdded
// told after), but with the master key: no session, no signature. A
// blocked client is refused; subscribing again changes nothing.
func (s *Service) Subscribe(ctx context.Context, p Principal, id, clientID string) error {
	if err := checkClientIDs([]string{clientID}, "clientId"); err != nil {
		return err
	}
	if _, err := s.systemConversation(ctx, s.db.R(), p, id); err != nil {
		return err
	}
	joined := convHookParams{InitBy: clientID, ConvID: id, Members: []string{clientID}}
	if s.hooks != nil {
		if _, err := s.conversationHook(ctx, hooks.ConversationAdd, joined); err != nil {
			return err
		}
	}
	var added []string
	return s.db.Write(ctx, func(tx *store.Tx) error {
		added = nil
		if _, err := s.systemConversation(bg, tx, p, id); err != nil {
			return err
		}
		if err := checkNotBlocked(tx, id, []string{clientID}); err != nil {
			return err
		}
		var err error
		if added, err = tx.AddMembers(id, []string{clientID}, s.nowMs()); err != nil || len(added) == 0 {
			return err
		}
		s.cache.forget(id)
		return nil
	}, func() {
		if len(added) > 0 {
			s.hooks.After(hooks.ConversationAdded, joined)
		}
	})
}

// Unsubscribe ends a client's subscription to a system conversation, as
// its quitting would; a client not subscribed changes nothing.
func (s *Service) Unsubscribe(ctx context.Context, p Principal, id, clientID string) error {
	var removed []string
	return s.db.Write(ctx, func(tx *store.Tx) error {
		removed = nil
		if _, err := s.systemConversation(bg, tx, p, id); err != nil {
			return err
		}
		var err error
		if removed, err = tx.RemoveMembers(id, []string{clientID}); err != nil || len(removed) == 0 {
			return err
		}
		s.cache.forget(id)
		return nil
	}, func() {
		if len(removed) > 0 {
			s.hooks.After(hooks.ConversationRemoved, convHookParams{InitBy: clientID, ConvID: id, Members: removed})
		}
	})
}

// Subscriber is a client subscribed to a system conversation, and since
// when (ms since the Unix epoch).
type Subscriber struct {
	ClientID     string
	SubscribedAt int64
}

// MaxSubscriberPage bounds one page of Subscribers.
const MaxSubscriberPage = 1000

// Subscribers pages a system conversation's subscribers by clientId, from
// after (exclusive), at most limit.
func (s *Service) Subscribers(ctx context.Context, p Principal, id, after string, limit int) ([]Subscriber, error) {
	if limit < 1 || limit > MaxSubscriberPage {
		return nil, fail(CodeInvalidRequest, "limit: 1 to %d", MaxSubscriberPage)
	}
	r := s.db.R()
	if _, err := s.systemConversation(ctx, r, p, id); err != nil {
		return nil, err
	}
	rows, err := store.Subscribers(ctx, r, id, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Subscriber, len(rows))
	for i, x := range rows {
		out[i] = Subscriber{ClientID: x.ClientID, SubscribedAt: x.JoinedAt}
	}
	return out, nil
}
