package handlers

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
	"github.com/parley-im/parley/store"
)

// convCache mirrors, for the conversations messages are sent to, what a send
// needs to know: the kind, the members in join order and their read
// positions, the last seq. With it a send reads nothing from the database.
//
// It is confined to the writer goroutine: it is read and changed only inside
// DB.Write functions and their after callbacks, so it always mirrors the
// transaction being built, and is dropped whole when a transaction is lost
// (DB.OnReset). Writes that change membership forget the conversation.
type convCache struct {
	m   map[string]*convState
	max int
}

type convState struct {
	row         store.Conversation
	members     []string         // join order
	readSeq     map[string]int64 // member → read position
	hasMentions bool             // some message mentions someone: unread mention tests must query
	silenced    map[string]int64 // member → silenced until (ms; -1 until lifted); nil when none
}

// silencedAt reports whether clientID may not send at nowMs.
func (st *convState) silencedAt(clientID string, nowMs int64) bool {
	until, ok := st.silenced[clientID]
	return ok && (until < 0 || until > nowMs)
}

func newConvCache(max int) *convCache {
	return &convCache{m: make(map[string]*convState), max: max}
}

// get returns the conversation's state, loading it within tx on a miss.
func (c *convCache) get(tx *store.Tx, convID string) (*convState, error) {
	if st := c.m[convID]; st != nil {
		return st, nil
	}
	// Messages queued in this transaction must be in the tables before a
	// conversation's state is read from them.
	if err := tx.Flush(); err != nil {
		return nil, err
	}
	row, err := store.GetConversation(bg, tx, convID)
	if err != nil {
		return nil, err
	}
	members, err := store.MembersOf(bg, tx, convID)
	if err != nil {
		return nil, err
	}
	st := &convState{row: *row, members: make([]string, len(members)), readSeq: make(map[string]int64, len(members))}
	for i, m := range members {
		st.members[i] = m.ClientID
		st.readSeq[m.ClientID] = m.ReadSeq
	}
	var one int
	err = sqlx.GetContext(bg, tx, &one, "SELECT 1 FROM mentions WHERE conversation_id = ? LIMIT 1", convID)
	switch {
	case err == nil:
		st.hasMentions = true
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	// Silences are read whole, expired ones too: expiry is checked at each
	// send (silencedAt), so the cache needs no sweeper.
	silenced, err := store.Silenced(bg, tx, convID, 0, "", MaxSilenced+1)
	if err != nil {
		return nil, err
	}
	for _, x := range silenced {
		if st.silenced == nil {
			st.silenced = make(map[string]int64, len(silenced))
		}
		st.silenced[x.ClientID] = -1
		if x.Until != nil {
			st.silenced[x.ClientID] = *x.Until
		}
	}
	if len(c.m) >= c.max {
		for k := range c.m { // evict one at random
			delete(c.m, k)
			break
		}
	}
	c.m[convID] = st
	return st, nil
}

func (c *convCache) forget(convID string) { delete(c.m, convID) }

func (c *convCache) reset() { clear(c.m) }

// sent records a stored message: the conversation's last seq, and the
// sender's read position (one's own messages are never unread).
func (st *convState) sent(m *store.Message) {
	if m.Private {
		return
	}
	st.row.LastSeq = m.Seq
	st.row.LastMessageAt = &m.Timestamp
	if _, ok := st.readSeq[m.From]; ok {
		st.readSeq[m.From] = m.Seq
	}
	if len(m.Mentions) > 0 {
		st.hasMentions = true
	}
}

// read moves a member's read position forward.
func (c *convCache) read(convID, clientID string, seq int64) {
	if st := c.m[convID]; st != nil {
		if cur, ok := st.readSeq[clientID]; ok && seq > cur {
			st.readSeq[clientID] = seq
		}
	}
}

// recipients lists the members with their unread counts now.
func (st *convState) recipients(ctx context.Context, tx *store.Tx) ([]store.Recipient, error) {
	if st.hasMentions { // rare: let SQL find unread mentions, over every message
		if err := tx.Flush(); err != nil {
			return nil, err
		}
		return store.Recipients(ctx, tx, st.row.ID)
	}
	out := make([]store.Recipient, len(st.members))
	for i, id := range st.members {
		out[i] = store.Recipient{ClientID: id, Unread: max(st.row.LastSeq-st.readSeq[id], 0)}
	}
	return out, nil
}

func (st *convState) isMember(clientID string) bool {
	_, ok := st.readSeq[clientID]
	return ok
}
