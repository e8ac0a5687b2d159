package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// File is one row of the files table: an uploaded file's facts. Its bytes
// are kept outside the database, under the data directory.
type File struct {
	ID        string `db:"id"`
	Name      string `db:"name"`
	MimeType  string `db:"mime_type"`
	Size      int64  `db:"size"`
	MetaData  string `db:"meta_data"` // JSON object
	Owner     string `db:"owner"`
	CreatedAt int64  `db:"created_at"`
}

// InsertFile stores f.
func (t *Tx) InsertFile(f *File) error {
	meta := f.MetaData
	if meta == "" {
		meta = "{}"
	}
	_, err := t.Exec(`INSERT INTO files (id, name, mime_type, size, meta_data, owner, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, f.ID, f.Name, f.MimeType, f.Size, meta, f.Owner, f.CreatedAt)
	return err
}

// GetFile reads one file's row; ErrNotFound when there is none.
func GetFile(ctx context.Context, r Reader, id string) (*File, error) {
	var f File
	err := sqlx.GetContext(ctx, r, &f, "SELECT * FROM files WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// MIDBefore is the smallest message id of a message sent at ms: ids are the
// send time in milliseconds shifted left by 12 bits plus a counter, so every
// message sent before ms has a smaller id.
func MIDBefore(ms int64) int64 { return ms << 12 }

// PurgeMessagesBefore deletes the messages sent before cutoffMs (by their
// time-ordered id, so the primary key finds them), at most batch of them per
// write so that the writer is never held long, and returns how many it
// deleted. It stops early, with what it deleted so far, when ctx ends.
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
			res, err := tx.Exec(`DELETE FROM messages WHERE mid IN
				(SELECT mid FROM messages WHERE mid < ? ORDER BY mid LIMIT ?)`, bound, batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
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
