package store

import (
	"errors"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	db := openTestDB(t, Options{})
	f := &File{ID: "0t5bq1m6k3v8a2d4e6g0h8j1k4", Name: "猫.png", MimeType: "image/png", Size: 20480,
		MetaData: `{"height":480,"width":640}`, Owner: "Tom", CreatedAt: 1_790_000_000_000}
	if err := db.Write(ctx, func(tx *Tx) error { return tx.InsertFile(f) }, nil); err != nil {
		t.Fatal(err)
	}
	got, err := GetFile(ctx, db.R(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *f {
		t.Errorf("read back %+v, want %+v", got, f)
	}
	if _, err := GetFile(ctx, db.R(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
	// Empty metadata is stored as an empty object; the master key owns as "".
	g := &File{ID: "g", Name: "a", MimeType: "text/plain; charset=utf-8", Size: 1, CreatedAt: 1}
	if err := db.Write(ctx, func(tx *Tx) error { return tx.InsertFile(g) }, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := GetFile(ctx, db.R(), "g"); err != nil || got.MetaData != "{}" || got.Owner != "" {
		t.Errorf("defaults: %+v, %v", got, err)
	}
	// Ids are unique.
	if err := db.Write(ctx, func(tx *Tx) error { return tx.InsertFile(f) }, nil); err == nil {
		t.Error("a second file with the same id was stored")
	}
}
