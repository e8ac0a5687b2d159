package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// UnreadEntry is one conversation's unread state.
type UnreadEntry struct {
	ConversationID      string   `json:"conversationId"`
	UnreadMessagesCount int64    `json:"unreadMessagesCount"`
	Mentioned           bool     `json:"mentioned" doc:"An unread message mentions the client"`
	LastMessage         *Message `json:"lastMessage,omitempty"`
	// stored, when set, is the last message as stored: it is encoded by
	// splicing its content, which is JSON already (see MarshalJSON).
	stored *store.Message
}

// UnreadEvent is the data of unreadmessagescountupdate, and the answer of
// GET /v1/unread.
type UnreadEvent struct {
	Conversations []UnreadEntry `json:"conversations"`
}

// LastReadAtEvent tells the other member of a one-to-one conversation how
// far a client has read.
type LastReadAtEvent struct {
	ConversationID string `json:"conversationId"`
	ClientID       string `json:"clientId"`
	LastReadAt     int64  `json:"lastReadAt"`
}

// LastDeliveredAtEvent tells a sender how far the other member of a
// one-to-one conversation has received.
type LastDeliveredAtEvent struct {
	ConversationID  string `json:"conversationId"`
	LastDeliveredAt int64  `json:"lastDeliveredAt"`
}

// receiptHook returns what a stream calls when it flushed m to a session:
// the first flush to the other member confirms delivery to the sender.
func (s *Service) receiptHook(m *Message) func(clientID string) {
	return func(clientID string) {
		if clientID != m.From {
			go s.confirmDelivered(context.Background(), m.ConversationID, clientID, m.Timestamp)
		}
	}
}

// confirmDelivered records that clientID received the conversation's
// messages up to at and tells the other member of a one-to-one conversation.
func (s *Service) confirmDelivered(ctx context.Context, convID, clientID string, at int64) error {
	var others []string
	var changed bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		others, changed = nil, false
		row, err := s.findConversation(bg, tx, convID)
		if err != nil {
			return err
		}
		if changed, err = tx.MarkDelivered(convID, clientID, at); err != nil || !changed {
			return err
		}
		if isOneToOne(row) {
			members, err := store.Members(bg, tx, convID)
			if err != nil {
				return err
			}
			others = slices.DeleteFunc(members, func(m string) bool { return m == clientID })
		}
		return nil
	}, func() {
		if changed && len(others) > 0 {
			s.publish(events.NameLastDeliveredAtUpdate, LastDeliveredAtEvent{ConversationID: convID, LastDeliveredAt: at}, others, "")
		}
	})
	return err
}

// isOneToOne reports whether a conversation is one-to-one, the conversations
// of receipts (lastdeliveredatupdate, lastreadatupdate) and of the other
// member's read positions (lastDeliveredAt, lastReadAt): a normal or a
// temporary conversation of two members (the README; the LeanCloud guides list
// receipts as supported in temporary conversations). Every path that
// decides receipts asks it, the send path through the writer's cache of the
// conversation row.
func isOneToOne(row *store.Conversation) bool {
	return (row.Kind == KindNormal || row.Kind == KindTemporary) && row.MemberCount == 2
}

// ReadRequest is the body of POST /v1/conversations/{id}/read.
type ReadRequest struct {
	MessageID string `json:"messageId,omitempty" maxLength:"64" doc:"Read up to this message (default: the latest)"`
}

// DeliveredRequest is the body of POST /v1/conversations/{id}/delivered.
type DeliveredRequest struct {
	MessageID string `json:"messageId,omitempty" maxLength:"64" doc:"Received up to this message (default: the latest)"`
}

// ReadManyRequest is the body of POST /v1/conversations/read.
type ReadManyRequest struct {
	ConversationIDs []string `json:"conversationIds" minItems:"1" maxItems:"1000" doc:"Conversations to mark read"`
}

// position resolves "up to messageID" (or the latest) to a seq and a time.
// A message p may not see (another subscriber's private one) is not found.
func (s *Service) position(r store.Reader, row *store.Conversation, p Principal, messageID string) (seq, at int64, err error) {
	if messageID == "" {
		at = s.nowMs()
		if row.LastMessageAt != nil {
			at = *row.LastMessageAt
		}
		return row.LastSeq, at, nil
	}
	mid, ok, err := s.messageMID(bg, r, row.ID, messageID)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fail(CodeMessageNotFound, "no message %q in this conversation", messageID)
	}
	m, err := store.GetMessage(bg, r, row.ID, mid)
	if err == nil && !sees(p, m) {
		err = store.ErrNotFound
	}
	if err != nil {
		if err == store.ErrNotFound {
			return 0, 0, fail(CodeMessageNotFound, "no message %q in this conversation", messageID)
		}
		return 0, 0, err
	}
	return m.Seq, m.Timestamp, nil
}

// MarkRead marks conversations read for the caller up to a message (or the
// latest): every session of the caller gets its new unread counts, and the
// other member of a one-to-one conversation gets lastreadatupdate.
func (s *Service) MarkRead(ctx context.Context, p Principal, convIDs []string, messageID string) (*UnreadEvent, error) {
	if err := refuseMaster(p, actReadMarks); err != nil {
		return nil, err
	}
	type told struct {
		conv   string
		others []string
		at     int64
	}
	var receipts []told
	var unread *UnreadEvent
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		receipts, unread = nil, nil
		for _, id := range convIDs {
			row, err := s.findConversation(bg, tx, id)
			if err != nil {
				return err
			}
			if err := s.may(tx, row, p, actReadMarks); err != nil {
				return err
			}
			seq, at, err := s.position(tx, row, p, messageID)
			if err != nil {
				return err
			}
			ok, err := tx.MarkRead(id, p.ClientID, seq, at)
			if err != nil {
				return err
			}
			if !ok {
				return errNotAMember
			}
			s.cache.read(id, p.ClientID, seq)
			if isOneToOne(row) {
				members, err := store.Members(bg, tx, id)
				if err != nil {
					return err
				}
				receipts = append(receipts, told{id, slices.DeleteFunc(members, func(m string) bool { return m == p.ClientID }), at})
			}
		}
		var err error
		unread, err = s.unreadSummary(bg, tx, p.ClientID, convIDs)
		return err
	}, func() {
		s.publish(events.NameUnreadMessagesCountUpdate, unread, []string{p.ClientID}, "")
		for _, r := range receipts {
			s.publish(events.NameLastReadAtUpdate, LastReadAtEvent{ConversationID: r.conv, ClientID: p.ClientID, LastReadAt: r.at}, r.others, "")
		}
	})
	return unread, err
}

// MarkDelivered confirms delivery of messages fetched through history.
func (s *Service) MarkDelivered(ctx context.Context, p Principal, convID, messageID string) error {
	if err := refuseMaster(p, actReadMarks); err != nil {
		return err
	}
	r := s.db.R()
	row, err := s.findConversation(ctx, r, convID)
	if err != nil {
		return err
	}
	if err := s.may(r, row, p, actReadMarks); err != nil {
		return err
	}
	_, at, err := s.position(r, row, p, messageID)
	if err != nil {
		return err
	}
	return s.confirmDelivered(ctx, convID, p.ClientID, at)
}

// Unread summarises the caller's unread conversations.
func (s *Service) Unread(ctx context.Context, p Principal) (*UnreadEvent, error) {
	if p.Master {
		return nil, fail(CodeForbidden, "unread counts belong to a client: log in as one")
	}
	return s.unreadSummary(ctx, s.db.R(), p.ClientID, nil)
}

// unreadSummary lists the unread state of clientID's conversations: all
// with unread messages, or exactly convIDs.
func (s *Service) unreadSummary(ctx context.Context, r store.Reader, clientID string, convIDs []string) (*UnreadEvent, error) {
	rows, err := store.UnreadOf(ctx, r, clientID, s.nowMs(), convIDs...)
	if err != nil {
		return nil, err
	}
	// Every entry carries its conversation's newest message, also once read
	// (count 0): the entry is what a conversation list shows.
	ids := make([]string, 0, len(rows))
	for _, u := range rows {
		ids = append(ids, u.ConversationID)
	}
	last, err := store.LastMessages(ctx, r, ids)
	if err != nil {
		return nil, err
	}
	out := &UnreadEvent{Conversations: make([]UnreadEntry, 0, len(rows))}
	for _, u := range rows {
		e := UnreadEntry{ConversationID: u.ConversationID, UnreadMessagesCount: u.Count, Mentioned: u.Mentioned}
		e.stored = last[u.ConversationID]
		out.Conversations = append(out.Conversations, e)
	}
	return out, nil
}

// StreamOpened sends what a fresh stream starts with, after hello: the
// unread summary, or for sessions that asked for offline messages, up to
// maxOfflinePerConversation of the newest unread messages of each
// conversation, oldest first, marked offline.
func (s *Service) StreamOpened(ctx context.Context, p Principal) error {
	st, err := s.sessionState(ctx, p.SessionID)
	if err != nil {
		return err
	}
	r := s.db.R()
	if st.offline != "push" {
		sum, err := s.unreadSummary(ctx, r, p.ClientID, nil)
		if err != nil {
			return err
		}
		data, err := sum.eventJSON()
		if err != nil {
			return err
		}
		s.hub.PublishSession(events.NewRaw(events.NameUnreadMessagesCountUpdate, data), p.SessionID)
		return nil
	}
	rows, err := store.UnreadOf(ctx, r, p.ClientID, s.nowMs())
	if err != nil {
		return err
	}
	var all []store.Message
	for _, u := range rows {
		msgs, err := store.UnreadMessages(ctx, r, u.ConversationID, u.ReadSeq, maxOfflinePerConversation)
		if err != nil {
			return err
		}
		all = append(all, msgs...)
	}
	slices.SortFunc(all, func(a, b store.Message) int { return cmp.Compare(a.MID, b.MID) })
	oneToOne := map[string]bool{} // of the conversations with a receipt to confirm
	for i := range all {
		m := toMessage(&all[i])
		msg, err := marshalAsSent(m)
		if err != nil {
			return err
		}
		conv, _ := json.Marshal(m.ConversationID)
		ev := events.NewRaw(events.NameMessage, messageEventJSON(conv, msg, mentions(m, p.ClientID), true))
		if all[i].Receipt {
			// As live: delivered when flushed to the stream, in one-to-one
			// conversations only.
			is, ok := oneToOne[m.ConversationID]
			if !ok {
				row, err := s.findConversation(ctx, r, m.ConversationID)
				if err != nil {
					return err
				}
				is = isOneToOne(row)
				oneToOne[m.ConversationID] = is
			}
			if is {
				ev.OnWritten = s.receiptHook(m)
			}
		}
		s.hub.PublishSession(ev, p.SessionID)
	}
	return nil
}

const maxOfflinePerConversation = 20
