package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// MessageConversation is the conversation of the message mid, by the
// primary key; ErrNotFound when there is none.
func MessageConversation(ctx context.Context, r Reader, mid int64) (string, error) {
	var conv string
	err := sqlx.GetContext(ctx, r, &conv, "SELECT conversation_id FROM messages WHERE mid = ?", mid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return conv, err
}
