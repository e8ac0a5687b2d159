package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

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
	LastMID       *int64 `db:"last_mid"` // the newest public message
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

// readPool is the read pool with what other packages keep per database on
// it (see PoolState). Each DB has its own, so that two databases in one
// process (tests, tools) share nothing.
type readPool struct {
	*sqlx.DB
	state sync.Map
}

func newReadPool(db *sqlx.DB) *readPool { return &readPool{DB: db} }

// PoolState returns the value kept under key on the database of r, made by
// init the first time, and whether r is a database's read pool (nil, false
// for any other Reader, such as a transaction).
//
// It is how a package above store keeps state per database without store
// knowing its type, nor importing it: convquery keeps its plan cache here
// (its choices depend on the sizes of one database's tables, so they must not
// be shared between two databases in one process, nor be global). As with
// context keys, key should be of an unexported type of the package that
// owns the value.
func PoolState(r Reader, key any, init func() any) (any, bool) {
	pool, ok := r.(*readPool)
	if !ok {
		return nil, false
	}
	if v, ok := pool.state.Load(key); ok {
		return v, true
	}
	v, _ := pool.state.LoadOrStore(key, init())
	return v, true
}

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

// InsertConversation stores a new conversation with its members. Its
// attributes' rows of conversation_attributes come with it (a trigger of
// migration 0006).
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

// Member is one membership row.
type Member struct {
	ConversationID string `db:"conversation_id"`
	ClientID       string `db:"client_id"`
	Muted          bool   `db:"muted"`
	ReadSeq        int64  `db:"read_seq"`
	ReadAt         *int64 `db:"read_at"`
	DeliveredAt    *int64 `db:"delivered_at"`
}

// MembersOf lists the members of several conversations, by conversation
// (in id order), each conversation's in join order.
func MembersOf(ctx context.Context, r Reader, convIDs ...string) ([]Member, error) {
	if len(convIDs) == 0 {
		return []Member{}, nil
	}
	// Room for a few members each, in one allocation.
	out := make([]Member, 0, min(8*len(convIDs), 4096))
	return selectMembers(ctx, r, out, "SELECT "+memberColumns+" FROM members WHERE conversation_id IN ("+idParams(len(convIDs))+
		") ORDER BY conversation_id, joined_at, client_id", idArgs(nil, convIDs)...)
}

// ClientMembersOf lists clientID's rows among the members of several
// conversations and, of those in whole, the other members' too, ordered as
// MembersOf: what a compact conversation shows without its member list (the
// caller's unread count and mute; in a one-to-one conversation, how far the
// other member read).
func ClientMembersOf(ctx context.Context, r Reader, clientID string, convIDs, whole []string) ([]Member, error) {
	out := []Member{}
	if len(convIDs) == 0 {
		return out, nil
	}
	query := "SELECT " + memberColumns + " FROM members WHERE conversation_id IN (" + idParams(len(convIDs)) +
		") AND (client_id = ? OR conversation_id IN (" + idParams(len(whole)) + ")) ORDER BY conversation_id, joined_at, client_id"
	args := append(idArgs(nil, convIDs), clientID)
	return selectMembers(ctx, r, out, query, idArgs(args, whole)...)
}

const memberColumns = "conversation_id, client_id, muted, read_seq, read_at, delivered_at"

// selectMembers appends to out the rows of a query of memberColumns,
// scanned field by field (a page of conversations has hundreds).
func selectMembers(ctx context.Context, r Reader, out []Member, query string, args ...any) ([]Member, error) {
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ConversationID, &m.ClientID, &m.Muted, &m.ReadSeq, &m.ReadAt, &m.DeliveredAt); err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// idParams is a list of n placeholders, for the ids of idArgs.
func idParams(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// idArgs appends ids to args.
func idArgs(args []any, ids []string) []any {
	for _, id := range ids {
		args = append(args, id)
	}
	return args
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

// UpdateInfo stores a conversation's name and attributes. New attributes
// replace the conversation's rows of conversation_attributes (a trigger of
// migration 0006).
func (t *Tx) UpdateInfo(convID, name, attributes string, at int64) error {
	_, err := t.Exec("UPDATE conversations SET name = ?, attributes = ?, updated_at = ? WHERE id = ?", name, attributes, at, convID)
	return err
}

// DeleteExpired deletes the temporary conversations that expired by now,
// with their members, messages and attribute rows, and returns how many
// went.
func (t *Tx) DeleteExpired(now int64, max int) (int64, error) {
	res, err := t.Exec(`DELETE FROM conversations WHERE id IN (
		SELECT id FROM conversations WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`, now, max)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteConversation deletes a conversation; its members, messages,
// mentions, wills, attribute rows, roles, silences and blocks go with it
// (ON DELETE CASCADE). It reports whether the conversation existed.
func (t *Tx) DeleteConversation(convID string) (bool, error) {
	res, err := t.Exec("DELETE FROM conversations WHERE id = ?", convID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Subscriber is a member of a system conversation, with when it joined.
type Subscriber struct {
	ClientID string `db:"client_id"`
	JoinedAt int64  `db:"joined_at"`
}

// Subscribers pages a conversation's members by clientId, from after
// (exclusive), at most limit.
func Subscribers(ctx context.Context, r Reader, convID, after string, limit int) ([]Subscriber, error) {
	out := []Subscriber{}
	err := sqlx.SelectContext(ctx, r, &out, `SELECT client_id, joined_at FROM members
		WHERE conversation_id = ? AND client_id > ? ORDER BY client_id LIMIT ?`, convID, after, limit)
	return out, err
}
