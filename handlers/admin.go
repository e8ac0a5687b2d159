package handlers

import (
	"context"
	"time"

	"github.com/parley-im/parley/events"
	"github.com/parley-im/parley/store"
)

// BroadcastRequest is the body of POST /v1/admin/broadcasts.
type BroadcastRequest struct {
	ConversationID string  `json:"conversationId,omitempty" maxLength:"128" doc:"A system conversation: the message is stored in it and reaches every subscriber, online now or later"`
	ToAllOnline    bool    `json:"toAllOnline,omitempty" doc:"Deliver to every online session instead; nothing is stored"`
	From           string  `json:"from,omitempty" maxLength:"64" doc:"Sender clientId shown to recipients (default: system): 1–64 characters, not only white space, without ':' or ',' and without control (Cc), format (Cf) or line/paragraph separator characters"`
	Message        Content `json:"message" doc:"The message content"`
}

// Broadcast sends a message to a system conversation's subscribers, or to
// every online session.
func (s *Service) Broadcast(ctx context.Context, p Principal, req BroadcastRequest) (*Message, error) {
	if !p.Master {
		return nil, fail(CodeForbidden, "the master key is required")
	}
	from := req.From
	if from == "" {
		from = "system"
	}
	if !ValidClientID(from) {
		return nil, fail(CodeInvalidRequest, "from: %q is not a valid clientId: %s", from, ClientIDRule)
	}
	switch {
	case req.ToAllOnline == (req.ConversationID != ""):
		return nil, fail(CodeInvalidRequest, "give either conversationId or toAllOnline: true")
	case req.ToAllOnline:
		if _, err := ValidateContent(&req.Message); err != nil {
			return nil, err
		}
		now := s.nowMs()
		m := &Message{ID: formatMessageID(s.db.NextMessageID(now)), From: from, Content: req.Message, Timestamp: now, Transient: true}
		ev, err := events.New(events.NameMessage, MessageEvent{Message: m})
		if err != nil {
			return nil, err
		}
		s.hub.PublishAll(ev)
		return m, nil
	}
	row, err := s.findConversation(ctx, s.db.R(), req.ConversationID)
	if err != nil {
		return nil, err
	}
	if row.Kind != KindSystem {
		return nil, fail(CodeOperationNotSupported, "broadcasts go to system conversations; use the admin send for a %s conversation", row.Kind)
	}
	m, _, err := s.send(ctx, sender{clientID: from, backend: true}, req.ConversationID, SendRequest{Content: req.Message})
	return m, err
}

// SweepExpired deletes the temporary conversations past their expiry, with
// their messages, and returns how many went.
func (s *Service) SweepExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.db.Write(ctx, func(tx *store.Tx) (err error) {
			n, err = tx.DeleteExpired(s.nowMs(), 100)
			if n > 0 {
				s.cache.reset()
			}
			return err
		}, nil)
		total += n
		if err != nil || n < 100 {
			return total, err
		}
	}
}

// RunSweeper deletes expired temporary conversations every interval until
// ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, every, func() {
		if n, err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweep expired conversations", "err", err)
		} else if n > 0 {
			s.log.Info("swept expired temporary conversations", "count", n)
		}
	})
}

// runEvery runs task after first and then every interval, until ctx ends.
func runEvery(ctx context.Context, first, every time.Duration, task func()) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		task()
		t.Reset(every)
	}
}
