package store

import (
	"path/filepath"
	"testing"
)

// Each database hands out its own message ids: another database in the same
// process does not move them, and a database opened again goes on after the
// newest id it stored.
func TestMessageIDsPerDatabase(t *testing.T) {
	const ts = 1_790_000_000_000
	path := filepath.Join(t.TempDir(), "a.db")
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := openTestDB(t, Options{})
	ids := seedConversation(t, a, "c", 3, ts)
	if got := b.NextMessageID(ts); got != ts<<12 {
		t.Errorf("the other database's first id at %d: %d, want %d", ts, got, int64(ts)<<12)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.NextMessageID(ts - 60_000); got <= ids[3] {
		t.Errorf("after reopening, id %d is not after the stored %d", got, ids[3])
	}
}
