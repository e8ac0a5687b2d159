package store

import (
	"context"
	"database/sql"
	"errors"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// Session is a login of one client on one device.
type Session struct {
	ID              string `db:"id"`
	ClientID        string `db:"client_id"`
	Tag             string `db:"tag"`
	OfflineMessages string `db:"offline_messages"`
	CreatedAt       int64  `db:"created_at"`
	ExpiresAt       int64  `db:"expires_at"`
	EndedAt         *int64 `db:"ended_at"`
	EndReason       string `db:"end_reason"`
}

// InsertSession stores a new live session.
func (t *Tx) InsertSession(s *Session) error {
	_, err := t.Exec(`INSERT INTO sessions(id, client_id, tag, offline_messages, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, s.ID, s.ClientID, s.Tag, s.OfflineMessages, s.CreatedAt, s.ExpiresAt)
	return err
}

// LiveSessionsWithTag lists the ids of a client's live sessions with tag.
func (t *Tx) LiveSessionsWithTag(clientID, tag string, now int64) ([]string, error) {
	var ids []string
	err := t.Select(&ids, `SELECT id FROM sessions
		WHERE client_id = ? AND ended_at IS NULL AND tag = ? AND expires_at > ?`, clientID, tag, now)
	return ids, err
}

// LiveSessions lists the ids of a client's live sessions, oldest first.
func (t *Tx) LiveSessions(clientID string, now int64) ([]string, error) {
	var ids []string
	err := t.Select(&ids, `SELECT id FROM sessions
		WHERE client_id = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at, id`, clientID, now)
	return ids, err
}

// EndSession marks a live session ended; ended reports whether it was live.
func (t *Tx) EndSession(id, reason string, at int64) (ended bool, err error) {
	res, err := t.Exec(`UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`, at, reason, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Session reads one session, live or ended.
func (db *DB) Session(ctx context.Context, id string) (*Session, error) {
	var s Session
	err := db.read.GetContext(ctx, &s, "SELECT * FROM sessions WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// UseNonce records a signature's nonce, valid until expiresAt (ms); it
// reports false when the nonce was used before. It also forgets a few
// nonces that have expired by now, so that the table stays as small as the
// signatures still valid.
func (t *Tx) UseNonce(nonce string, expiresAt, now int64) (bool, error) {
	if _, err := t.Exec(`DELETE FROM signature_nonces WHERE nonce IN
		(SELECT nonce FROM signature_nonces WHERE expires_at < ? ORDER BY expires_at LIMIT 16)`, now); err != nil {
		return false, err
	}
	res, err := t.Exec("INSERT INTO signature_nonces(nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING", nonce, expiresAt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
