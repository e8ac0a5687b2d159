package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// PushJob is a message's offline push, as queued with the message.
type PushJob struct {
	ID             int64   `db:"id"`
	MID            int64   `db:"mid"`
	ConversationID string  `db:"conversation_id"`
	Offline        string  `db:"offline"`   // JSON array of clientIds
	PushData       *string `db:"push_data"` // JSON
	CreatedAt      int64   `db:"created_at"`
}

// QueuePush queues a message's push job in the transaction that stores the
// message (after Flush or QueueMessage: it refers to the message by mid).
func (t *Tx) QueuePush(j *PushJob) error {
	return t.Get(&j.ID, `INSERT INTO push_jobs (mid, conversation_id, offline, push_data, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, j.MID, j.ConversationID, j.Offline, j.PushData, j.CreatedAt)
}

// PushJobs returns up to limit queued jobs, oldest first.
func PushJobs(ctx context.Context, r Reader, limit int) ([]PushJob, error) {
	out := []PushJob{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM push_jobs ORDER BY id LIMIT ?", limit)
	return out, err
}

// PushDelivery is one notification for one device.
type PushDelivery struct {
	ID             int64  `db:"id"`
	Token          string `db:"token"`
	Platform       string `db:"platform"`
	ClientID       string `db:"client_id"`
	Payload        string `db:"payload"`
	ConversationID string `db:"conversation_id"`
	CreatedAt      int64  `db:"created_at"`
	NextAt         int64  `db:"next_at"`
	Attempts       int    `db:"attempts"`
}

// ExpandPushJob replaces a job with its deliveries (none: the job is
// simply done).
func (t *Tx) ExpandPushJob(jobID int64, ds []PushDelivery) error {
	res, err := t.Exec("DELETE FROM push_jobs WHERE id = ?", jobID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // expanded already (a job runs again after a reset)
	}
	for _, d := range ds {
		if _, err := t.Exec(`INSERT INTO push_deliveries (token, platform, client_id, payload, conversation_id, created_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.Token, d.Platform, d.ClientID, d.Payload, d.ConversationID, d.CreatedAt, d.NextAt); err != nil {
			return err
		}
	}
	return nil
}

// DuePushDeliveries returns up to limit deliveries due at nowMs, the
// longest due first.
func DuePushDeliveries(ctx context.Context, r Reader, nowMs int64, limit int) ([]PushDelivery, error) {
	out := []PushDelivery{}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM push_deliveries WHERE next_at <= ? ORDER BY next_at LIMIT ?", nowMs, limit)
	return out, err
}

// NextPushAt is when the next delivery is due (ok false: none queued).
func NextPushAt(ctx context.Context, r Reader) (int64, bool, error) {
	var at sql.NullInt64
	err := sqlx.GetContext(ctx, r, &at, "SELECT min(next_at) FROM push_deliveries")
	return at.Int64, at.Valid, err
}

// PushDone forgets a delivery: sent, or given up.
func (t *Tx) PushDone(id int64) error {
	_, err := t.Exec("DELETE FROM push_deliveries WHERE id = ?", id)
	return err
}

// PushLater reschedules a delivery that failed for now.
func (t *Tx) PushLater(id int64, attempts int, nextAt int64) error {
	_, err := t.Exec("UPDATE push_deliveries SET attempts = ?, next_at = ? WHERE id = ?", attempts, nextAt, id)
	return err
}

// PushDeadToken forgets a delivery and the device whose token the provider
// says is dead, with every other delivery queued for that token.
func (t *Tx) PushDeadToken(token string) error {
	if _, err := t.Exec("DELETE FROM push_deliveries WHERE token = ?", token); err != nil {
		return err
	}
	_, err := t.Exec("DELETE FROM devices WHERE token = ?", token)
	return err
}

// PushTarget is a member to push to: whether they muted the conversation.
type PushTarget struct {
	ClientID string `db:"client_id"`
	Muted    bool   `db:"muted"`
}

// MutedOf says which of clientIDs muted a conversation; clients who are no
// longer members are left out.
func MutedOf(ctx context.Context, r Reader, convID string, clientIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(clientIDs) == 0 {
		return out, nil
	}
	var rows []PushTarget
	err := sqlx.SelectContext(ctx, r, &rows, "SELECT client_id, muted FROM members WHERE conversation_id = ? AND client_id IN ("+idParams(len(clientIDs))+")",
		idArgs([]any{convID}, clientIDs)...)
	for _, t := range rows {
		out[t.ClientID] = t.Muted
	}
	return out, err
}

// DevicesOf lists the devices of several clients.
func DevicesOf(ctx context.Context, r Reader, clientIDs []string) ([]Device, error) {
	out := []Device{}
	if len(clientIDs) == 0 {
		return out, nil
	}
	err := sqlx.SelectContext(ctx, r, &out, "SELECT * FROM devices WHERE client_id IN ("+idParams(len(clientIDs))+") ORDER BY client_id, created_at",
		idArgs(nil, clientIDs)...)
	return out, err
}

// UnreadTotal is a client's unread count over all its conversations.
func UnreadTotal(ctx context.Context, r Reader, clientID string) (int64, error) {
	var n sql.NullInt64
	err := sqlx.GetContext(ctx, r, &n, `SELECT sum(max(c.last_seq - m.read_seq, 0)) FROM members m
		JOIN conversations c ON c.id = m.conversation_id WHERE m.client_id = ?`, clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n.Int64, err
}
