package handlers

import (
	"context"

	"github.com/parley-im/parley/store"
)

// SubscriptionsRequest pages a client's subscriptions to system
// conversations, in the order they were made (LeanCloud's
// /rtm/clients/{id}/service-conversations).
type SubscriptionsRequest struct {
	ClientID string
	// After, when set, is the cursor: the subscriptions after that
	// conversation's, which was made at AfterTime (ms).
	After     string
	AfterTime int64
	// Newest pages from the newest subscription back.
	Newest bool
	Limit  int
}

// Subscription is one of a client's subscriptions.
type Subscription struct {
	ConversationID string
	SubscribedAt   int64
}

// Subscriptions pages a client's subscriptions to system conversations,
// with the master key.
func (s *Service) Subscriptions(ctx context.Context, p Principal, req SubscriptionsRequest) ([]Subscription, error) {
	if err := requireMaster(p); err != nil {
		return nil, err
	}
	if err := checkClientIDs([]string{req.ClientID}, "clientId"); err != nil {
		return nil, err
	}
	if req.Limit < 1 || req.Limit > MaxSubscriberPage {
		return nil, fail(CodeInvalidRequest, "limit: 1 to %d", MaxSubscriberPage)
	}
	rows, err := store.Subscriptions(ctx, s.db.R(), store.SubscriptionsQuery{ClientID: req.ClientID,
		AfterJoined: req.AfterTime, AfterConv: req.After, Newest: req.Newest, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]Subscription, len(rows))
	for i, x := range rows {
		out[i] = Subscription{ConversationID: x.ConversationID, SubscribedAt: x.JoinedAt}
	}
	return out, nil
}
