package handlers

import (
	"context"
	"errors"

	"github.com/parley-im/parley/store"
)

// MessageConversation finds the conversation of a message from its id
// alone, with the master key: LeanCloud's API names a broadcast by its
// message id only. It knows the ids Parley gives; an imported message's
// LeanCloud id is known only within its conversation, so it is not found.
func (s *Service) MessageConversation(ctx context.Context, p Principal, messageID string) (string, error) {
	if err := requireMaster(p); err != nil {
		return "", err
	}
	mid, ok := parseMessageID(messageID)
	if !ok {
		return "", fail(CodeMessageNotFound, "no message %q", messageID)
	}
	conv, err := store.MessageConversation(ctx, s.db.R(), mid)
	if errors.Is(err, store.ErrNotFound) {
		return "", fail(CodeMessageNotFound, "no message %q", messageID)
	}
	return conv, err
}
