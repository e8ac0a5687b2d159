package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
)

// latestMigration is the version of the newest embedded migration.
func latestMigration(t *testing.T) int {
	t.Helper()
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no embedded migrations: %v", err)
	}
	latest := 0
	for _, e := range entries {
		var v int
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest
}

func TestOpenAppliesMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "m.db") // directories are created
	latest := latestMigration(t)
	for round := range 2 { // a fresh file, then the same file again
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("open #%d: %v", round+1, err)
		}
		var version int
		if err := db.read.Get(&version, "PRAGMA user_version"); err != nil {
			t.Fatal(err)
		}
		if version != latest {
			t.Errorf("open #%d: user_version %d, want %d", round+1, version, latest)
		}
		for _, table := range []string{"settings", "sessions", "conversations", "members", "messages"} {
			var n int
			if err := db.read.Get(&n, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table); err != nil || n != 1 {
				t.Errorf("open #%d: table %s missing (%v)", round+1, table, err)
			}
		}
		for _, pragma := range []struct{ name, want string }{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"synchronous", "1"}, // NORMAL: durability comes from the writer's own WAL fsync
		} {
			var got string
			if err := db.write.Get(&got, "PRAGMA "+pragma.name); err != nil || got != pragma.want {
				t.Errorf("PRAGMA %s = %q (%v), want %q", pragma.name, got, err, pragma.want)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	future := latestMigration(t) + 1
	raw, err := sqlx.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", future)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err = Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatalf("opened a database of schema version %d with a build that knows %d", future, future-1)
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the database is newer", err)
	}
}

func TestOpenOptions(t *testing.T) {
	for _, tt := range []struct {
		sync     string
		wantErr  bool
		wantSync string
	}{
		{"", false, "full"},
		{"full", false, "full"},
		{"normal", false, "normal"},
		{"off", true, ""},
		{"FULL", true, ""},
		{"extra", true, ""},
	} {
		t.Run("sync="+tt.sync, func(t *testing.T) {
			db, err := Open(filepath.Join(t.TempDir(), "o.db"), Options{Synchronous: tt.sync})
			if tt.wantErr {
				if err == nil {
					db.Close()
					t.Fatalf("Synchronous %q accepted", tt.sync)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// SQLite commits with synchronous=NORMAL either way; "full" adds
			// the writer's fsync of the WAL before any write is answered.
			var got string
			if err := db.write.Get(&got, "PRAGMA synchronous"); err != nil || got != "1" {
				t.Errorf("PRAGMA synchronous = %q (%v), want 1 (NORMAL)", got, err)
			}
			if fsyncs := db.w.sync != nil; fsyncs != (tt.wantSync == "full") {
				t.Errorf("Synchronous %q: the writer fsyncs the WAL: %v", tt.sync, fsyncs)
			}
		})
	}
}

// A new database file gets the page size asked for (1 KiB by default) and
// WAL mode; a file that exists keeps the page size it was created with.
func TestOpenPageSize(t *testing.T) {
	pageSize := func(path string, opt Options) (size int, mode string) {
		t.Helper()
		db, err := Open(path, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.read.Get(&size, "PRAGMA page_size"); err != nil {
			t.Fatal(err)
		}
		if err := db.read.Get(&mode, "PRAGMA journal_mode"); err != nil {
			t.Fatal(err)
		}
		return size, mode
	}
	dir := t.TempDir()
	if size, mode := pageSize(filepath.Join(dir, "default.db"), Options{}); size != 1024 || mode != "wal" {
		t.Errorf("new file: page size %d, journal mode %s; want 1024, wal", size, mode)
	}
	path := filepath.Join(dir, "big.db")
	if size, _ := pageSize(path, Options{PageSize: 4096}); size != 4096 {
		t.Errorf("page size %d, want 4096", size)
	}
	if size, _ := pageSize(path, Options{PageSize: 1024}); size != 4096 {
		t.Errorf("reopened with another page size: %d, want the file's 4096", size)
	}
	if _, err := Open(filepath.Join(dir, "odd.db"), Options{PageSize: 1000}); err == nil {
		t.Error("page size 1000 accepted")
	}
}

func TestReadPoolIsReadOnly(t *testing.T) {
	db := openTestDB(t, Options{})
	if _, err := db.read.Exec("INSERT INTO settings(key, value) VALUES ('x', 'y')"); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestSettingOrInit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.Setting(ctx, "k"); ok || err != nil {
		t.Fatalf("unset key: ok=%v err=%v", ok, err)
	}
	var inits atomic.Int32
	init := func() string { return fmt.Sprintf("value-%d", inits.Add(1)) }

	v1, created1, err := db.SettingOrInit(ctx, "k", init)
	if err != nil || !created1 || v1 != "value-1" {
		t.Fatalf("first call: %q created=%v err=%v, want value-1 created", v1, created1, err)
	}
	v2, created2, err := db.SettingOrInit(ctx, "k", init)
	if err != nil || created2 || v2 != v1 {
		t.Fatalf("second call: %q created=%v err=%v, want %q not created", v2, created2, err, v1)
	}
	if got, ok, err := db.Setting(ctx, "k"); !ok || err != nil || got != v1 {
		t.Fatalf("Setting: %q ok=%v err=%v", got, ok, err)
	}

	// Concurrent first calls of another key agree on one value, created once.
	var wg sync.WaitGroup
	values := make([]string, 32)
	created := make([]bool, 32)
	for i := range values {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			values[i], created[i], err = db.SettingOrInit(ctx, "shared", init)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range values {
		if values[i] != values[0] {
			t.Errorf("concurrent calls disagree: %q and %q", values[0], values[i])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d concurrent calls say they created the value, want 1", nCreated)
	}
	if n := inits.Load(); n != 2 {
		t.Errorf("init ran %d times, want 2 (once per key)", n)
	}
	db.Close()

	// The value survives a restart and is not created again.
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v3, created3, err := db.SettingOrInit(ctx, "k", func() string { return "other" })
	if err != nil || created3 || v3 != v1 {
		t.Fatalf("after reopening: %q created=%v err=%v, want %q not created", v3, created3, err, v1)
	}
}

func TestOpenAnyFileName(t *testing.T) {
	for _, name := range []string{"plain.db", "with space.db", "100%.db", "a%20b.db", "a#b.db", "a?b.db", "数据.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(filepath.Join(dir, name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var mode string
			if err := db.write.Get(&mode, "PRAGMA journal_mode"); err != nil || mode != "wal" {
				t.Errorf("journal_mode %q (%v), want wal", mode, err)
			}
			db.Close()
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				entries, _ := os.ReadDir(dir)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("database not created under its own name: %v; the directory holds %q", err, names)
			}
		})
	}
}

// undoTo0007 takes a database back from the latest version (0016) to 7.
func undoTo0007(t *testing.T) []string {
	t.Helper()
	trigger, err := migrationFiles.ReadFile("migrations/0005_send_trigger.sql")
	if err != nil {
		t.Fatal(err)
	}
	lastMID, err := migrationFiles.ReadFile("migrations/0008_last_message_id.sql")
	if err != nil {
		t.Fatal(err)
	}
	trigger0008 := string(lastMID[strings.Index(string(lastMID), "CREATE TRIGGER"):])
	return []string{"DROP TABLE blocked", "DROP TABLE silenced", // 0016
		"DROP TABLE push_deliveries", "DROP TABLE push_jobs", // 0015
		"DROP TABLE member_infos", "DROP TRIGGER messages_advance", // 0014
		"DROP INDEX messages_lc_id", "ALTER TABLE messages DROP COLUMN lc_id", trigger0008,
		"DROP INDEX messages_by_time", "DROP INDEX messages_by_time_type", // 0013
		"CREATE INDEX messages_by_conversation ON messages(conversation_id, mid)",
		"CREATE INDEX messages_by_conversation_type ON messages(conversation_id, type, mid) WHERE type <> -1",
		"ALTER TABLE messages DROP COLUMN priority", // 0012
		"ALTER TABLE messages DROP COLUMN receipt",  // 0011
		"DROP TABLE devices",          // 0010
		"DROP TABLE signature_nonces", // 0009
		"DROP TRIGGER messages_advance", "ALTER TABLE conversations DROP COLUMN last_mid", string(trigger)}
}

// undo0007 takes a database back from 0007 to version 6.
var undo0007 = []string{
	"DROP INDEX messages_by_conversation_type",
	"CREATE INDEX messages_by_conversation_type ON messages(conversation_id, type, mid)",
}

// remigrated makes a database, takes it back to an older schema with the
// undo statements (the last sets user_version), lets fill write to it
// there, and opens it again: the later migrations then run over what fill
// wrote. The result is closed when the test ends.
func remigrated(t *testing.T, undo []string, fill func(*DB)) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeOrFail(t, old, func(tx *Tx) error {
		for _, stmt := range undo {
			if _, err := tx.Exec(stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return nil
	})
	fill(old)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	migrated, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { migrated.Close() })
	return migrated
}

// The database holds the master key and the token secret: its file and the
// WAL SQLite creates beside it are the owner's only, whatever the umask and
// even when the folder existed already; a folder Open creates is too.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.SettingOrInit(context.Background(), "k", func() string { return "v" }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(name), mode)
		}
	}

	nested := filepath.Join(dir, "new", "parley.db")
	db2, err := Open(nested, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if fi, err := os.Stat(filepath.Dir(nested)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created folder: %v %v, want drwx------", fi.Mode(), err)
	}
}

// An existing database file open to others is made private, with a log line.
func TestOpenTightensAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, name := range []string{path, path + "-wal"} {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644) // an empty WAL is none
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chmod(name, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs strings.Builder
	db, err = Open(path, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want -rw-------", filepath.Base(name), fi.Mode(), err)
		}
	}
	if !strings.Contains(logs.String(), "made it 0600") {
		t.Errorf("no log line for the tightened file:\n%s", logs.String())
	}
}

// ReadSetting reads a setting beside a running server and after it
// stopped, and creates no database where there is none.
func TestReadSetting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.SettingOrInit(context.Background(), "k", func() string { return "v1" }); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		if v, ok, err := ReadSetting(path, "k"); v != "v1" || !ok || err != nil {
			t.Errorf("%s: ReadSetting(k) = %q, %v, %v", when, v, ok, err)
		}
		if v, ok, err := ReadSetting(path, "unset"); v != "" || ok || err != nil {
			t.Errorf("%s: ReadSetting(unset) = %q, %v, %v", when, v, ok, err)
		}
	}
	check("database open")
	db.Close()
	check("database closed")
	missing := filepath.Join(dir, "none.db")
	if _, _, err := ReadSetting(missing, "k"); err == nil {
		t.Error("ReadSetting of a missing file: no error")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("ReadSetting created %s: %v", missing, err)
	}
}
