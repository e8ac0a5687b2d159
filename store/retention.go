package store

import "context"

// MIDBefore is the smallest message id of a message sent at ms: ids are the
// send time in milliseconds shifted left by 12 bits plus a counter, so every
// message sent before ms has a smaller id.
func MIDBefore(ms int64) int64 { return ms << 12 }

// PurgeMessagesBefore deletes the messages sent before cutoffMs (by their
// time-ordered id, so the primary key finds them) together with their
// mentions, at most batch messages per write so that the writer is never
// held long, and returns how many it deleted. It stops early, with what it
// deleted so far, when ctx ends.
//
// Conversations keep their sequence numbers and read positions, so unread
// counts still include purged messages nobody read.
func (db *DB) PurgeMessagesBefore(ctx context.Context, cutoffMs int64, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	bound := MIDBefore(cutoffMs)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int64
		err := db.Write(ctx, func(tx *Tx) error {
			n = 0
			return tx.purgeBatch(bound, batch, &n)
		}, nil)
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

func (t *Tx) purgeBatch(bound int64, batch int, n *int64) error {
	// Within a conversation, sequence numbers grow with ids: the mentions
	// of the purged messages are those up to the newest purged seq.
	var tops []struct {
		ConversationID string `db:"conversation_id"`
		Seq            int64  `db:"seq"`
	}
	if err := t.Select(&tops, `SELECT conversation_id, max(seq) AS seq FROM
		(SELECT conversation_id, seq FROM messages WHERE mid < ? ORDER BY mid LIMIT ?)
		GROUP BY conversation_id`, bound, batch); err != nil {
		return err
	}
	for _, top := range tops {
		if _, err := t.Exec("DELETE FROM mentions WHERE conversation_id = ? AND seq <= ?", top.ConversationID, top.Seq); err != nil {
			return err
		}
	}
	res, err := t.Exec(`DELETE FROM messages WHERE mid IN
		(SELECT mid FROM messages WHERE mid < ? ORDER BY mid LIMIT ?)`, bound, batch)
	if err != nil {
		return err
	}
	*n, err = res.RowsAffected()
	return err
}
