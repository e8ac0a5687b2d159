package store

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Device is a push token registered by a client.
type Device struct {
	Token     string `db:"token"`
	ClientID  string `db:"client_id"`
	Platform  string `db:"platform"`
	CreatedAt int64  `db:"created_at"`
	UpdatedAt int64  `db:"updated_at"`
}

// PutDevice registers a push token for a client; a token registered before,
// by this client or another, now belongs to this one. d.CreatedAt comes
// back as the token's first registration.
func (t *Tx) PutDevice(d *Device) error {
	return t.Get(&d.CreatedAt, `INSERT INTO devices(token, client_id, platform, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(token) DO UPDATE SET client_id = excluded.client_id, platform = excluded.platform, updated_at = excluded.updated_at
		RETURNING created_at`,
		d.Token, d.ClientID, d.Platform, d.CreatedAt, d.UpdatedAt)
}

// DeleteDevice forgets a client's push token; it reports whether the client
// had it.
func (t *Tx) DeleteDevice(clientID, token string) (bool, error) {
	res, err := t.Exec("DELETE FROM devices WHERE token = ? AND client_id = ?", token, clientID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Devices lists a client's push tokens, oldest first.
func Devices(ctx context.Context, r Reader, clientID string) ([]Device, error) {
	out := []Device{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM devices WHERE client_id = ? ORDER BY created_at, token", clientID)
	return out, err
}
