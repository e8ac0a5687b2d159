package store

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Subscription is a client's membership of a system conversation, with
// when it joined.
type Subscription struct {
	ConversationID string `db:"conversation_id"`
	JoinedAt       int64  `db:"joined_at"`
}

// SubscriptionsQuery pages a client's subscriptions in (joined_at,
// conversation_id) order: ascending, or descending with Newest; after the
// cursor (AfterJoined, AfterConv), exclusive, when AfterConv is set.
type SubscriptionsQuery struct {
	ClientID    string
	AfterJoined int64
	AfterConv   string
	Newest      bool
	Limit       int
}

// Subscriptions reads a page of a client's system-conversation memberships.
// It walks the client's memberships by members_by_client and sorts those
// of system conversations: a client's memberships are few.
func Subscriptions(ctx context.Context, r Reader, q SubscriptionsQuery) ([]Subscription, error) {
	query := `SELECT m.conversation_id, m.joined_at FROM members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.client_id = ? AND c.kind = 'system'`
	args := []any{q.ClientID}
	cmp, order := ">", " ORDER BY m.joined_at, m.conversation_id"
	if q.Newest {
		cmp, order = "<", " ORDER BY m.joined_at DESC, m.conversation_id DESC"
	}
	if q.AfterConv != "" {
		query += " AND (m.joined_at, m.conversation_id) " + cmp + " (?, ?)"
		args = append(args, q.AfterJoined, q.AfterConv)
	}
	args = append(args, q.Limit)
	out := []Subscription{}
	err := sqlx.SelectContext(ctx, r, &out, query+order+" LIMIT ?", args...)
	return out, err
}
