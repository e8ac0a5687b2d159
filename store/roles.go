package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// Roles of members (README, "Roles"): the creator is the owner and everyone
// else a member, unless member_infos says otherwise.

// RoleRow is a member's role as stored: only roles other than what the
// default gives are rows.
type RoleRow struct {
	ClientID string `db:"client_id"`
	Role     string `db:"role"`
	InfoID   string `db:"info_id"` // LeanCloud's objectId of an imported row; "" for roles set in Parley
}

// Roles lists a conversation's stored roles.
func Roles(ctx context.Context, r Reader, convID string) ([]RoleRow, error) {
	out := []RoleRow{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT client_id, role, info_id FROM member_infos WHERE conversation_id = ?", convID)
	return out, err
}

// SetRole stores a member's role.
func (t *Tx) SetRole(convID, clientID, role string, at int64) error {
	_, err := t.Exec(`INSERT INTO member_infos (conversation_id, client_id, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (conversation_id, client_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		convID, clientID, role, at, at)
	return err
}

// ForgetRoles drops the stored roles of clients who left a conversation.
func (t *Tx) ForgetRoles(convID string, clientIDs []string) error {
	if len(clientIDs) == 0 {
		return nil
	}
	_, err := t.Exec("DELETE FROM member_infos WHERE conversation_id = ? AND client_id IN ("+idParams(len(clientIDs))+")",
		idArgs([]any{convID}, clientIDs)...)
	return err
}

// Silence is a silenced member: Until is nil when until lifted.
type Silence struct {
	ClientID string `db:"client_id"`
	Until    *int64 `db:"until"`
}

// Silenced lists a conversation's members silenced at nowMs, by clientId,
// from after (exclusive), at most limit.
func Silenced(ctx context.Context, r Reader, convID string, nowMs int64, after string, limit int) ([]Silence, error) {
	out := []Silence{}
	err := sqlx.SelectContext(ctx, r, &out, `SELECT client_id, until FROM silenced
		WHERE conversation_id = ? AND (until IS NULL OR until > ?) AND client_id > ? ORDER BY client_id LIMIT ?`,
		convID, nowMs, after, limit)
	return out, err
}

// SilencedUntil says whether a client is silenced in a conversation at
// nowMs, and until when (nil: until lifted).
func SilencedUntil(ctx context.Context, r Reader, convID, clientID string, nowMs int64) (bool, *int64, error) {
	var until sql.NullInt64
	err := sqlx.GetContext(ctx, r, &until, "SELECT until FROM silenced WHERE conversation_id = ? AND client_id = ? AND (until IS NULL OR until > ?)",
		convID, clientID, nowMs)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil, nil
	}
	if err != nil || !until.Valid {
		return err == nil, nil, err
	}
	return true, &until.Int64, nil
}

// Silence silences clients (until nil: until lifted).
func (t *Tx) Silence(convID string, clientIDs []string, until *int64, by string, at int64) error {
	for _, c := range clientIDs {
		if _, err := t.Exec(`INSERT INTO silenced (conversation_id, client_id, until, by_id, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (conversation_id, client_id) DO UPDATE SET until = excluded.until, by_id = excluded.by_id, created_at = excluded.created_at`,
			convID, c, until, by, at); err != nil {
			return err
		}
	}
	return nil
}

// Unsilence lifts silences.
func (t *Tx) Unsilence(convID string, clientIDs []string) error {
	if len(clientIDs) == 0 {
		return nil
	}
	_, err := t.Exec("DELETE FROM silenced WHERE conversation_id = ? AND client_id IN ("+idParams(len(clientIDs))+")",
		idArgs([]any{convID}, clientIDs)...)
	return err
}

// CountSilenced is how many members are silenced at nowMs.
func CountSilenced(ctx context.Context, r Reader, convID string, nowMs int64) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, r, &n, "SELECT count(*) FROM silenced WHERE conversation_id = ? AND (until IS NULL OR until > ?)", convID, nowMs)
	return n, err
}

// Blocked lists a conversation's blocked clients by clientId, from after
// (exclusive), at most limit.
func Blocked(ctx context.Context, r Reader, convID, after string, limit int) ([]string, error) {
	out := []string{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT client_id FROM blocked WHERE conversation_id = ? AND client_id > ? ORDER BY client_id LIMIT ?",
		convID, after, limit)
	return out, err
}

// BlockedAmong returns those of clientIDs blocked in a conversation.
func BlockedAmong(ctx context.Context, r Reader, convID string, clientIDs []string) ([]string, error) {
	out := []string{}
	if len(clientIDs) == 0 {
		return out, nil
	}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT client_id FROM blocked WHERE conversation_id = ? AND client_id IN ("+idParams(len(clientIDs))+")",
		idArgs([]any{convID}, clientIDs)...)
	return out, err
}

// CountBlocked is how many clients a conversation blocks.
func CountBlocked(ctx context.Context, r Reader, convID string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, r, &n, "SELECT count(*) FROM blocked WHERE conversation_id = ?", convID)
	return n, err
}

// Block blocks clients.
func (t *Tx) Block(convID string, clientIDs []string, by string, at int64) error {
	for _, c := range clientIDs {
		if _, err := t.Exec(`INSERT INTO blocked (conversation_id, client_id, by_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, convID, c, by, at); err != nil {
			return err
		}
	}
	return nil
}

// Unblock lifts blocks.
func (t *Tx) Unblock(convID string, clientIDs []string) error {
	if len(clientIDs) == 0 {
		return nil
	}
	_, err := t.Exec("DELETE FROM blocked WHERE conversation_id = ? AND client_id IN ("+idParams(len(clientIDs))+")",
		idArgs([]any{convID}, clientIDs)...)
	return err
}
