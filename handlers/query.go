package handlers

import (
	"context"
	"errors"

	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/store/convquery"
)

// Query limits (README, "Querying conversations"; the OpenAPI document,
// GET /v1/conversations).
const (
	DefaultQueryLimit = 10
	MaxQueryLimit     = 1000
	MaxQuerySkip      = 100_000
)

// QueryRequest is a conversation query.
type QueryRequest struct {
	Where           string
	Sort            string
	Limit, Skip     int
	Compact         bool
	WithLastMessage bool
}

// QueryConversations lists the conversations matching a where query.
// Temporary conversations are never listed. Conditions on members see the
// member lists p sees (convquery.CompileWhereFor); the master key sees all. A
// query waits for its slots (see querySlots) and runs for at most the
// query timeout.
func (s *Service) QueryConversations(ctx context.Context, p Principal, req QueryRequest) (_ []*Conversation, err error) {
	if req.Limit == 0 {
		req.Limit = DefaultQueryLimit
	}
	if req.Limit < 1 || req.Limit > MaxQueryLimit {
		return nil, fail(CodeInvalidRequest, "limit must be between 1 and %d", MaxQueryLimit)
	}
	if req.Skip < 0 || req.Skip > MaxQuerySkip {
		return nil, fail(CodeInvalidRequest, "skip must be between 0 and %d", MaxQuerySkip)
	}
	viewer := p.ClientID
	if p.Master {
		viewer = ""
	} else if viewer == "" {
		return nil, errUnauthorized
	}
	where, err := convquery.CompileWhereFor([]byte(req.Where), viewer)
	if err != nil {
		return nil, asQueryError(err)
	}
	order, orderArgs, err := convquery.CompileSort(req.Sort)
	if err != nil {
		return nil, asQueryError(err)
	}
	release, err := s.queries.acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	defer release()
	ctx, cancel := context.WithTimeoutCause(ctx, s.queryTimeout, errQueryTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = s.queryFailed(ctx, err)
		}
	}()
	r := s.db.R()
	rows, err := convquery.QueryConversations(ctx, r, convquery.ConversationQuery{
		Where: where, Order: order, OrderArgs: orderArgs, Limit: req.Limit, Skip: req.Skip,
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var members []store.Member
	if req.Compact {
		// No member lists: only the caller's rows (unread count, mute) and
		// the other member's of a one-to-one conversation (its receipts).
		var pairs []string
		for i := range rows {
			if isOneToOne(&rows[i]) {
				pairs = append(pairs, rows[i].ID)
			}
		}
		members, err = store.ClientMembersOf(ctx, r, p.ClientID, ids, pairs)
	} else {
		members, err = store.MembersOf(ctx, r, ids...)
	}
	if err != nil {
		return nil, err
	}
	// The rows come by conversation: each conversation's are a part of them.
	byConv := make(map[string][]store.Member, len(rows))
	for i := 0; i < len(members); {
		j := i + 1
		for j < len(members) && members[j].ConversationID == members[i].ConversationID {
			j++
		}
		byConv[members[i].ConversationID] = members[i:j:j]
		i = j
	}
	var last map[string]*store.Message
	if req.WithLastMessage {
		if last, err = store.LastMessages(ctx, r, ids); err != nil {
			return nil, err
		}
	}
	out := make([]*Conversation, len(rows))
	for i := range rows {
		c, a := s.listedConversation(&rows[i], byConv[rows[i].ID], p)
		if req.Compact {
			c.Members, c.MutedMembers = nil, nil
		}
		if m := last[rows[i].ID]; m != nil && a.messages {
			c.LastMessage = toMessage(m)
		}
		out[i] = c
	}
	return out, nil
}

func asQueryError(err error) error {
	var qe *convquery.QueryError
	if errors.As(err, &qe) {
		return fail(CodeInvalidQuery, "%s", qe.Detail)
	}
	return err
}
