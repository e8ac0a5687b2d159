package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// What importers (package leancloud) store: conversations, member roles and
// messages made elsewhere, kept under their own ids, and safe to store
// again (an import may run twice, or resume).

// ImportConversation stores a conversation made elsewhere with its members
// and the members who muted it (and its LastMessageAt, when set: the time
// of a last message its history may no longer hold), unless a conversation
// with its id exists: then it changes nothing and reports false.
func (t *Tx) ImportConversation(c *Conversation, members, muted []string) (bool, error) {
	res, err := t.Exec(`INSERT INTO conversations
		(id, kind, name, creator, attributes, is_unique, created_at, updated_at, member_count, ttl, expires_at, last_message_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Kind, c.Name, c.Creator, c.Attributes, c.Unique, c.CreatedAt, c.UpdatedAt, c.TTL, c.ExpiresAt, c.LastMessageAt)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if _, err := t.AddMembers(c.ID, members, c.CreatedAt); err != nil {
		return false, err
	}
	for _, m := range muted {
		if _, err := t.SetMuted(c.ID, m, true); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ConversationExists reports whether a conversation with id exists.
func ConversationExists(ctx context.Context, r Reader, id string) (bool, error) {
	var one int
	err := sqlx.GetContext(ctx, r, &one, "SELECT 1 FROM conversations WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// MemberInfo is a member's role as LeanCloud kept it (_ConversationMemberInfo).
type MemberInfo struct {
	ConversationID string `db:"conversation_id"`
	ClientID       string `db:"client_id"`
	Role           string `db:"role"`    // owner, manager or member
	InfoID         string `db:"info_id"` // LeanCloud's objectId of the row
	CreatedAt      int64  `db:"created_at"`
	UpdatedAt      int64  `db:"updated_at"`
}

// PutMemberInfo stores a member's role; of two for the same member, the
// later updated one stays. It reports whether it changed anything.
func (t *Tx) PutMemberInfo(mi *MemberInfo) (bool, error) {
	res, err := t.Exec(`INSERT INTO member_infos (conversation_id, client_id, role, info_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (conversation_id, client_id) DO UPDATE SET role = excluded.role, info_id = excluded.info_id,
			created_at = excluded.created_at, updated_at = excluded.updated_at
		WHERE excluded.updated_at > member_infos.updated_at`,
		mi.ConversationID, mi.ClientID, mi.Role, mi.InfoID, mi.CreatedAt, mi.UpdatedAt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// MemberInfos lists a conversation's imported member roles.
func MemberInfos(ctx context.Context, r Reader, convID string) ([]MemberInfo, error) {
	out := []MemberInfo{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM member_infos WHERE conversation_id = ? ORDER BY client_id", convID)
	return out, err
}

// ImportMessages stores imported messages (LCID set on each): a message
// whose LCID its conversation holds already is left as it is, so an import
// may run again. Each gets a mid of its own made from arrivedMs, the time
// it arrived in Parley (now: see migration 0014), and seq 0: imported
// history counts as read, and it stores no mentions. It returns how many
// it inserted. FinishImport sets what the messages_advance trigger sets for
// a sent message.
func (t *Tx) ImportMessages(msgs []*Message, arrivedMs int64) (int64, error) {
	var inserted int64
	for len(msgs) > 0 {
		chunk := msgs[:min(len(msgs), flushChunk)]
		for _, m := range chunk {
			if m.LCID == nil {
				return inserted, errors.New("store: an imported message needs its LeanCloud id")
			}
			m.MID, m.Seq, m.Mentions = t.mids.next(arrivedMs), 0, nil
		}
		t.mids.imported.Store(true) // before the commit: the import's own reads may resolve them
		n, err := t.insertMessages(chunk, " ON CONFLICT (conversation_id, lc_id) WHERE lc_id IS NOT NULL DO NOTHING")
		if err != nil {
			return inserted, err
		}
		inserted += n
		msgs = msgs[len(chunk):]
	}
	return inserted, nil
}

// FinishImport brings a conversation up to date with messages imported into
// it: its last message is the newest public one, by (timestamp, mid), and
// its lastMessageAt that one's time unless lastMessageAt (LeanCloud's lm)
// is later; every member has read and received everything up to it.
func (t *Tx) FinishImport(convID string, lastMessageAt int64) error {
	var last struct {
		MID       int64 `db:"mid"`
		Timestamp int64 `db:"timestamp"`
	}
	err := t.Get(&last, `SELECT mid, timestamp FROM messages WHERE conversation_id = ? AND private = 0
		ORDER BY timestamp DESC, mid DESC LIMIT 1`, convID)
	if errors.Is(err, sql.ErrNoRows) {
		if lastMessageAt > 0 {
			_, err = t.Exec(`UPDATE conversations SET last_message_at = max(coalesce(last_message_at, 0), ?) WHERE id = ?`,
				lastMessageAt, convID)
		}
		return err
	}
	if err != nil {
		return err
	}
	if _, err := t.Exec(`UPDATE conversations SET last_mid = ?, last_message_at = max(coalesce(last_message_at, 0), ?, ?)
		WHERE id = ?`, last.MID, last.Timestamp, lastMessageAt, convID); err != nil {
		return err
	}
	_, err = t.Exec(`UPDATE members SET read_at = max(coalesce(read_at, 0), ?), delivered_at = max(coalesce(delivered_at, 0), ?)
		WHERE conversation_id = ?`, last.Timestamp, last.Timestamp, convID)
	return err
}

// MessageByLCID finds the mid of the message of a conversation that had id
// lcID in LeanCloud.
func MessageByLCID(ctx context.Context, r Reader, convID, lcID string) (int64, bool, error) {
	var mid int64
	err := sqlx.GetContext(ctx, r, &mid, "SELECT mid FROM messages WHERE conversation_id = ? AND lc_id = ?", convID, lcID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return mid, err == nil, err
}
