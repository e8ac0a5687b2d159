package handlers

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// MessageChangeEvent is the data of messagerecall and messageupdate.
type MessageChangeEvent struct {
	ConversationID string   `json:"conversationId"`
	Message        *Message `json:"message"`
}

// EditRequest is the body of PATCH /v1/conversations/{id}/messages/{messageId}.
type EditRequest struct {
	Content
}

// Recall recalls a message: it stays in history with recalled: true and no
// content, and every member gets messagerecall. The sender or the master key
// may recall, unless the server disables recall.
func (s *Service) Recall(ctx context.Context, p Principal, convID, messageID string) (*Message, error) {
	if s.cfg.DisableRecall {
		return nil, fail(CodeForbidden, "recalling messages is disabled on this server")
	}
	var only peerSet
	if s.hooks != nil {
		var err error
		if only, err = s.messageUpdate(ctx, p, convID, messageID, nil); err != nil {
			return nil, err
		}
	}
	return s.changeMessage(ctx, p, convID, messageID, events.NameMessageRecall, only, func(_ *store.Conversation, m *store.Message) error {
		if err := mayChangeMessage(p, m, false); err != nil {
			return err
		}
		m.Recalled, m.Body, m.Mentions = true, "{}", nil // a recalled message mentions nobody
		return nil
	})
}

// Edit replaces a message's content; every member gets messageupdate with
// the new content. Only the sender may edit, and not a recalled message.
// The master key edits only as the sender it names in p.ClientID (the app
// backend modifying a message for its from_client, as LeanCloud's REST
// API does); without one it is refused.
func (s *Service) Edit(ctx context.Context, p Principal, convID, messageID string, c Content) (*Message, error) {
	if p.Master && p.ClientID == "" {
		return nil, fail(CodeForbidden, "only the sender may edit a message")
	}
	body, err := ValidateContent(&c)
	if err != nil {
		return nil, err
	}
	var only peerSet
	if s.hooks != nil {
		if only, err = s.messageUpdate(ctx, p, convID, messageID, &c); err != nil {
			return nil, err
		}
		if body, err = ValidateContent(&c); err != nil { // the hook may have replaced it
			return nil, err
		}
	}
	return s.changeMessage(ctx, p, convID, messageID, events.NameMessageUpdate, only, func(conv *store.Conversation, m *store.Message) error {
		if err := mayChangeMessage(p, m, true); err != nil {
			return err
		}
		stored := body
		if _, fbody, changed, err := s.filterContent(conv, c); err != nil {
			return err
		} else if changed {
			stored = fbody
		}
		now := s.nowMs()
		m.Body, m.Type, m.PatchedAt, m.Mentions = string(stored), typeOf(&c), &now, mentionsOf(&c)
		return nil
	})
}

// changeMessage applies change to a stored message and announces the result
// as event to whoever can see the message (of them, only those a hook's
// toPeers admits, and the sender).
func (s *Service) changeMessage(ctx context.Context, p Principal, convID, messageID string, event events.Name, only peerSet, change func(*store.Conversation, *store.Message) error) (*Message, error) {
	var out *Message
	var to []string
	var room string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		out, to, room = nil, nil, ""
		conv, err := s.findConversation(bg, tx, convID)
		if err != nil {
			return err
		}
		// Only from inside the conversation: a client who left it (or a
		// session that left the room) no longer edits or recalls there.
		if err := s.may(tx, conv, p, actChangeMsg); err != nil {
			return err
		}
		mid, ok, err := s.messageMID(bg, tx, convID, messageID)
		if err != nil {
			return err
		}
		if !ok {
			return fail(CodeMessageNotFound, "no message %q in this conversation", messageID)
		}
		m, err := store.GetMessage(bg, tx, convID, mid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !sees(p, m)) {
			return fail(CodeMessageNotFound, "no message %q in this conversation", messageID)
		}
		if err != nil {
			return err
		}
		wasRecalled := m.Recalled
		if err := change(conv, m); err != nil {
			return err
		}
		if wasRecalled && m.Recalled {
			out = toMessage(m) // recalling twice changes nothing and tells nobody
			return nil
		}
		if err := tx.UpdateMessage(m); err != nil {
			return err
		}
		if !m.Private { // a private message's mentions are not stored
			if err := tx.SetMentions(m); err != nil {
				return err
			}
			// The writer's cache knows whether the conversation has
			// mentions at all; it reads that again on the next send.
			s.cache.forget(convID)
		}
		out = toMessage(m)
		switch {
		case conv.Kind == KindChatRoom:
			room = convID
		case m.Private:
			to = []string{m.From}
		default:
			to, err = store.Members(bg, tx, convID)
		}
		return err
	}, func() {
		data := MessageChangeEvent{ConversationID: convID, Message: out}
		if room != "" {
			if ev, err := events.New(event, data); err == nil {
				s.hub.PublishRoom(room, ev, events.PriorityHigh, "")
			}
		} else if to = only.filter(to, out.From); len(to) > 0 {
			s.publish(event, data, to, "")
		}
	})
	return out, err
}

// holdWill keeps a session's will message, replacing an older one; it is
// sent only if the session drops abruptly.
func (s *Service) holdWill(ctx context.Context, from sender, convID string, req SendRequest) (*Message, Outcome, error) {
	if from.backend || from.sessionID == "" {
		return nil, 0, fail(CodeInvalidRequest, "will messages belong to a session")
	}
	if req.Transient {
		return nil, 0, fail(CodeInvalidRequest, "a will message cannot be transient")
	}
	req.Will = false
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	now := s.nowMs()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		conv, err := s.findConversation(bg, tx, convID)
		if err != nil {
			return err
		}
		to, err := s.audienceOf(tx, conv, from)
		if err != nil {
			return err
		}
		if to.private || to.room != "" {
			return fail(CodeOperationNotSupported, "will messages go to normal and temporary conversations")
		}
		return tx.PutWill(&store.Will{SessionID: from.sessionID, ClientID: from.clientID, ConversationID: convID, Request: string(raw), CreatedAt: now})
	}, func() { s.hub.Track(from.sessionID, from.clientID) })
	if err != nil {
		return nil, 0, err
	}
	return &Message{ConversationID: convID, From: from.clientID, Content: req.Content, Timestamp: now}, Held, nil
}

// SessionGone is called when a session's stream has been gone past the
// offline grace without a reconnect or a logout: its will message, if any,
// is sent now. The will's clientMessageId makes the send idempotent, so a
// crash between sending and forgetting the will cannot send it twice.
func (s *Service) SessionGone(ctx context.Context, sessionID, clientID string) {
	will, err := store.WillOf(ctx, s.db.R(), sessionID)
	if err != nil && s.ShuttingDown() {
		return // shutting down: the will stays held and is re-armed after the restart
	}
	if err != nil {
		s.log.Error("read will", "session", sessionID, "err", err)
		return
	}
	if will == nil {
		return
	}
	if st, err := s.sessionState(ctx, sessionID); err != nil || st.ended != "" {
		s.dropWill(ctx, sessionID) // logged out or replaced: no abrupt drop
		return
	}
	var req SendRequest
	if err := json.Unmarshal([]byte(will.Request), &req); err != nil {
		s.log.Error("decode will", "session", sessionID, "err", err)
		s.dropWill(ctx, sessionID)
		return
	}
	req.ClientMessageID = "will:" + sessionID
	if _, _, err := s.send(ctx, sender{clientID: will.ClientID}, will.ConversationID, req); err != nil {
		var he *Error
		if !errors.As(err, &he) {
			if !errors.Is(err, store.ErrClosed) {
				s.log.Error("send will", "session", sessionID, "err", err)
			}
			return // kept: tried again after the next restart
		}
		// The conversation is gone or the client left it: the will cannot go.
	}
	s.dropWill(ctx, sessionID)
}

func (s *Service) dropWill(ctx context.Context, sessionID string) {
	err := s.db.Write(ctx, func(tx *store.Tx) error { _, err := tx.TakeWill(sessionID); return err }, nil)
	if err != nil && !errors.Is(err, store.ErrClosed) { // closed: kept, re-armed after the restart
		s.log.Error("drop will", "session", sessionID, "err", err)
	}
}

// RestoreWills makes the hub watch every session holding a will, after a
// restart: a session that does not reconnect within the offline grace
// dropped abruptly, and its will is sent.
func (s *Service) RestoreWills(ctx context.Context) error {
	wills, err := store.Wills(ctx, s.db.R())
	if err != nil {
		return err
	}
	for _, w := range wills {
		s.hub.Track(w.SessionID, w.ClientID)
	}
	return nil
}
