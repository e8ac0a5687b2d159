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
