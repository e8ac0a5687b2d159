package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Conversation is one row of the conversations table.
type Conversation struct {
	ID            string `db:"id"`
	Kind          string `db:"kind"`
	Name          string `db:"name"`
	Creator       string `db:"creator"`
	Attributes    string `db:"attributes"`
	Unique        bool   `db:"is_unique"`
	CreatedAt     int64  `db:"created_at"`
	UpdatedAt     int64  `db:"updated_at"`
	LastMessageAt *int64 `db:"last_message_at"`
	LastSeq       int64  `db:"last_seq"`
	MemberCount   int    `db:"member_count"`
	TTL           *int64 `db:"ttl"`
	ExpiresAt     *int64 `db:"expires_at"`
}

// Reader is what both the read pool and a write transaction offer, so that
// one query function serves both.
type Reader interface {
	sqlx.QueryerContext
}

// R is the read pool.
func (db *DB) R() Reader { return db.read }

var bg = context.Background()

// GetConversation reads one conversation.
func GetConversation(ctx context.Context, r Reader, id string) (*Conversation, error) {
	var c Conversation
	err := sqlx.GetContext(ctx, r, &c, "SELECT * FROM conversations WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Members lists a conversation's members in join order.
func Members(ctx context.Context, r Reader, convID string) ([]string, error) {
	ids := []string{}
	err := sqlx.SelectContext(ctx, r, &ids,
		"SELECT client_id FROM members WHERE conversation_id = ? ORDER BY joined_at, client_id", convID)
	return ids, err
}

// IsMember reports whether clientID is a member of the conversation.
func IsMember(ctx context.Context, r Reader, convID, clientID string) (bool, error) {
	var one int
	err := sqlx.GetContext(ctx, r, &one,
		"SELECT 1 FROM members WHERE conversation_id = ? AND client_id = ?", convID, clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// InsertConversation stores a new conversation with its members.
func (t *Tx) InsertConversation(c *Conversation, members []string) error {
	_, err := t.Exec(`INSERT INTO conversations
		(id, kind, name, creator, attributes, is_unique, created_at, updated_at, member_count, ttl, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		c.ID, c.Kind, c.Name, c.Creator, c.Attributes, c.Unique, c.CreatedAt, c.UpdatedAt, c.TTL, c.ExpiresAt)
	if err != nil {
		return err
	}
	_, err = t.AddMembers(c.ID, members, c.CreatedAt)
	return err
}

// AddMembers adds the clients that are not members yet and returns them.
func (t *Tx) AddMembers(convID string, clientIDs []string, at int64) ([]string, error) {
	added := []string{}
	for _, id := range clientIDs {
		res, err := t.Exec(`INSERT INTO members(conversation_id, client_id, joined_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, convID, id, at)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added = append(added, id)
		}
	}
	if len(added) > 0 {
		if _, err := t.Exec("UPDATE conversations SET member_count = member_count + ? WHERE id = ?", len(added), convID); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// RemoveMembers removes the clients that are members and returns them.
func (t *Tx) RemoveMembers(convID string, clientIDs []string) ([]string, error) {
	removed := []string{}
	for _, id := range clientIDs {
		res, err := t.Exec("DELETE FROM members WHERE conversation_id = ? AND client_id = ?", convID, id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			removed = append(removed, id)
		}
	}
	if len(removed) > 0 {
		if _, err := t.Exec("UPDATE conversations SET member_count = member_count - ? WHERE id = ?", len(removed), convID); err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// FindUnique returns the id of a unique normal conversation whose member set
// is exactly members (sorted, without duplicates).
func (t *Tx) FindUnique(members []string) (string, bool, error) {
	var id string
	q := `SELECT c.id FROM conversations c
		JOIN members m ON m.conversation_id = c.id
		WHERE c.kind = 'normal' AND c.is_unique = 1 AND c.member_count = ?
		  AND m.client_id IN (?` + strings.Repeat(", ?", len(members)-1) + `)
		GROUP BY c.id HAVING count(*) = ?
		ORDER BY c.created_at LIMIT 1`
	args := make([]any, 0, len(members)+2)
	args = append(args, len(members))
	for _, m := range members {
		args = append(args, m)
	}
	args = append(args, len(members))
	err := t.Get(&id, q, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}

// Touch sets a conversation's updatedAt.
func (t *Tx) Touch(convID string, at int64) error {
	_, err := t.Exec("UPDATE conversations SET updated_at = ? WHERE id = ?", at, convID)
	return err
}

// ConversationQuery selects conversations with a compiled filter.
type ConversationQuery struct {
	Where     Where
	Order     string
	OrderArgs []any
	Limit     int
	Skip      int
}

// QueryConversations runs a conversation query. Temporary conversations are
// never listed.
//
// A filter with attribute lookups (see Where) has two plans. Visiting the
// lookups' candidates costs a row read for each, however few the page
// needs: fast for a rare value, slow for a common one. Walking the
// conversations in sort order (an index: conversations_by_last_message for
// the default order, the primary key for id) and testing each row stops at
// the end of the page: fast for a common value, a scan of the table for a
// rare one. So when the order has an index, the walk comes first, over the
// first scanRows(limit+skip) conversations only; a full page from them is
// the answer (the matches among the first rows in order are the first
// matches), and otherwise the lookups answer.
func QueryConversations(ctx context.Context, r Reader, q ConversationQuery) ([]Conversation, error) {
	if q.Where.scanSQL != "" && q.Limit > 0 && orderHasIndex(q.Order) {
		if rows := scanRows(q.Limit, q.Skip); rows > 0 {
			args := append(append([]any{}, q.OrderArgs...), rows)
			args = append(append(append(args, q.Where.scanArgs...), q.OrderArgs...), q.Limit, q.Skip)
			out := []Conversation{}
			err := sqlx.SelectContext(ctx, r, &out,
				"SELECT c.* FROM (SELECT * FROM conversations c WHERE c.kind <> 'temporary' ORDER BY "+q.Order+
					" LIMIT ?) AS c WHERE ("+q.Where.scanSQL+") ORDER BY "+q.Order+" LIMIT ? OFFSET ?", args...)
			if err != nil || len(out) == q.Limit {
				return out, err
			}
		}
	}
	args := append(append(append([]any{}, q.Where.Args...), q.OrderArgs...), q.Limit, q.Skip)
	out := []Conversation{}
	err := sqlx.SelectContext(ctx, r, &out,
		"SELECT c.* FROM conversations c WHERE c.kind <> 'temporary' AND ("+q.Where.SQL+
			") ORDER BY "+q.Order+" LIMIT ? OFFSET ?", args...)
	return out, err
}

// orderHasIndex reports whether an ORDER BY of CompileSort walks an index:
// lastMessageAt (conversations_by_last_message, either direction) or id.
func orderHasIndex(order string) bool {
	return strings.HasPrefix(order, "c.last_message_at ") || strings.HasPrefix(order, "c.id ")
}

// Bounds of the walk in sort order that QueryConversations tries first:
// scanRowsPerResult rows for each row the page needs (a value on 1 in 40
// rows or more fills it), within [scanRowsMin, scanRowsMax]; none when the
// page needs more rows than scanRowsMax/scanRowsPerResult.
var (
	scanRowsPerResult = 40
	scanRowsMin       = 500
	scanRowsMax       = 4000
)

// scanRows is how many conversations, first in sort order, the walk tests
// for a page of limit rows after skip; 0 when it is not worth a try.
func scanRows(limit, skip int) int {
	need := limit + skip
	if need <= 0 || need > scanRowsMax/scanRowsPerResult {
		return 0
	}
	return min(max(need*scanRowsPerResult, scanRowsMin), scanRowsMax)
}

// Member is one membership row.
type Member struct {
	ConversationID string `db:"conversation_id"`
	ClientID       string `db:"client_id"`
	Muted          bool   `db:"muted"`
	ReadSeq        int64  `db:"read_seq"`
	ReadAt         *int64 `db:"read_at"`
	DeliveredAt    *int64 `db:"delivered_at"`
}

// MembersOf lists the members of several conversations, in join order.
func MembersOf(ctx context.Context, r Reader, convIDs ...string) ([]Member, error) {
	out := []Member{}
	if len(convIDs) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT conversation_id, client_id, muted, read_seq, read_at, delivered_at FROM members
		WHERE conversation_id IN (?) ORDER BY conversation_id, joined_at, client_id`, convIDs)
	if err != nil {
		return nil, err
	}
	err = sqlx.SelectContext(ctx, r, &out, query, args...)
	return out, err
}

// SetMuted sets a member's mute flag; it reports false when clientID is not
// a member.
func (t *Tx) SetMuted(convID, clientID string, muted bool) (bool, error) {
	res, err := t.Exec("UPDATE members SET muted = ? WHERE conversation_id = ? AND client_id = ?", muted, convID, clientID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateInfo stores a conversation's name and attributes.
func (t *Tx) UpdateInfo(convID, name, attributes string, at int64) error {
	_, err := t.Exec("UPDATE conversations SET name = ?, attributes = ?, updated_at = ? WHERE id = ?", name, attributes, at, convID)
	return err
}

// DeleteExpired deletes the temporary conversations that expired by now,
// with their members and messages, and returns how many went.
func (t *Tx) DeleteExpired(now int64, max int) (int64, error) {
	res, err := t.Exec(`DELETE FROM conversations WHERE id IN (
		SELECT id FROM conversations WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`, now, max)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
