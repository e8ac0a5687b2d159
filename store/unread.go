package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// Unread is one conversation's unread state for a member.
type Unread struct {
	ConversationID string `db:"conversation_id"`
	Count          int64  `db:"unread"`
	ReadSeq        int64  `db:"read_seq"`
	Mentioned      bool   `db:"mentioned"`
}

// mentionedSQL says whether a member row m has an unread mention by someone
// else.
const mentionedSQL = `EXISTS (SELECT 1 FROM mentions x WHERE x.conversation_id = m.conversation_id
	AND x.client_id IN (m.client_id, '*') AND x.seq > m.read_seq AND x.from_id <> m.client_id)`

// UnreadOf lists the conversations where clientID has unread messages (all
// of them when convIDs is empty, else just those), newest activity first.
func UnreadOf(ctx context.Context, r Reader, clientID string, now int64, convIDs ...string) ([]Unread, error) {
	q := `SELECT m.conversation_id, c.last_seq - m.read_seq AS unread, m.read_seq, ` + mentionedSQL + ` AS mentioned
		FROM members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.client_id = ? AND (c.expires_at IS NULL OR c.expires_at > ?)`
	args := []any{clientID, now}
	if len(convIDs) > 0 {
		q += " AND m.conversation_id IN (?)"
		args = append(args, convIDs)
	} else {
		q += " AND c.last_seq > m.read_seq"
	}
	q += " ORDER BY c.last_message_at DESC"
	q, args, err := sqlx.In(q, args...)
	if err != nil {
		return nil, err
	}
	rows, err := r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Unread{}
	for rows.Next() { // scanned field by field: a login reads a thousand
		var u Unread
		if err := rows.Scan(&u.ConversationID, &u.Count, &u.ReadSeq, &u.Mentioned); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Recipient is a member to whom a new message goes, with its unread state
// after that message.
type Recipient struct {
	ClientID  string `db:"client_id"`
	Unread    int64  `db:"unread"`
	Mentioned bool   `db:"mentioned"`
}

// Recipients lists a conversation's members with their unread counts and
// whether something unread mentions them. The mention test runs only when
// the conversation has mentions at all, so plain chats pay nothing for it.
func Recipients(ctx context.Context, r Reader, convID string) ([]Recipient, error) {
	var any int
	err := sqlx.GetContext(ctx, r, &any, "SELECT 1 FROM mentions WHERE conversation_id = ? LIMIT 1", convID)
	mentioned := "0"
	if err == nil {
		mentioned = mentionedSQL
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := []Recipient{}
	err = sqlx.SelectContext(ctx, r, &out, `SELECT m.client_id, c.last_seq - m.read_seq AS unread, `+mentioned+` AS mentioned
		FROM members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.conversation_id = ? ORDER BY m.joined_at, m.client_id`, convID)
	return out, err
}

// MarkRead moves a member's read position forward to seq (never back) and
// reports whether it was a member.
func (t *Tx) MarkRead(convID, clientID string, seq, at int64) (bool, error) {
	res, err := t.Exec(`UPDATE members SET read_seq = max(read_seq, ?), read_at = max(coalesce(read_at, 0), ?)
		WHERE conversation_id = ? AND client_id = ?`, seq, at, convID, clientID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkDelivered moves a member's delivery time forward to at; it reports
// whether that changed anything.
func (t *Tx) MarkDelivered(convID, clientID string, at int64) (bool, error) {
	res, err := t.Exec(`UPDATE members SET delivered_at = ?
		WHERE conversation_id = ? AND client_id = ? AND coalesce(delivered_at, 0) < ?`, at, convID, clientID, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnreadMessages returns up to limit of the newest messages after readSeq in
// a conversation, oldest first, that are not private: in (timestamp, mid)
// order, walking messages_by_time back from the newest.
func UnreadMessages(ctx context.Context, r Reader, convID string, readSeq int64, limit int) ([]Message, error) {
	out := []Message{}
	err := sqlx.SelectContext(ctx, r, &out, `SELECT * FROM (SELECT * FROM messages
		WHERE conversation_id = ? AND seq > ? AND private = 0 ORDER BY timestamp DESC, mid DESC LIMIT ?) ORDER BY timestamp, mid`,
		convID, readSeq, limit)
	return out, err
}

// Will is a held will message.
type Will struct {
	SessionID      string `db:"session_id"`
	ClientID       string `db:"client_id"`
	ConversationID string `db:"conversation_id"`
	Request        string `db:"request"`
	CreatedAt      int64  `db:"created_at"`
}

// PutWill holds w as its session's will, replacing any older one.
func (t *Tx) PutWill(w *Will) error {
	_, err := t.Exec(`INSERT INTO wills(session_id, client_id, conversation_id, request, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(session_id) DO UPDATE SET conversation_id = excluded.conversation_id,
		request = excluded.request, created_at = excluded.created_at`,
		w.SessionID, w.ClientID, w.ConversationID, w.Request, w.CreatedAt)
	return err
}

// TakeWill removes and returns a session's will (nil if none).
func (t *Tx) TakeWill(sessionID string) (*Will, error) {
	var w Will
	err := t.Get(&w, "DELETE FROM wills WHERE session_id = ? RETURNING *", sessionID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// WillOf reads a session's held will (nil if none).
func WillOf(ctx context.Context, r Reader, sessionID string) (*Will, error) {
	var w Will
	err := sqlx.GetContext(ctx, r, &w, "SELECT * FROM wills WHERE session_id = ?", sessionID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// Wills lists every held will.
func Wills(ctx context.Context, r Reader) ([]Will, error) {
	out := []Will{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM wills ORDER BY created_at")
	return out, err
}
