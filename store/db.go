// Package store owns Parley's durable state: the SQLite schema, its
// migrations, the queries, and the single writer that group-commits them.
// Nothing here knows about HTTP or event streams.
// The conversation query language (where, sort) and its planner are
// package store/convquery, which builds on this one.
//
// Callers above it (handlers) hand the writer code that it runs on its own
// goroutines, against the import direction:
//
//   - DB.Write's fn runs on the writer goroutine, inside the batch's shared
//     transaction under a savepoint of its own, and may run more than once
//     (when another write aborts the whole transaction): it sets what it
//     reports afresh on each run. Every write queued behind it waits for
//     it, so it blocks on nothing but the database, and it never calls
//     Write (the writer would wait for itself).
//   - DB.Write's after runs on the announcer goroutine once the batch has
//     committed and is durable, in commit order, before Write returns:
//     where committed changes are announced (handlers publish events
//     there). It must not block, nor call Write and wait for it (the
//     announcer answers that write too; a goroutine of its own may), nor
//     touch what later writes' fn use: the writer runs them meanwhile.
//   - OnReset's f runs on the writer goroutine when a whole transaction is
//     lost, before any of its writes runs again: state mirrored from fn
//     (handlers' conversation cache, confined to the writer goroutine) is
//     dropped there. fn's rules apply.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
)

// driverName is go-sqlite3 with Parley's SQL functions on every connection.
const driverName = "sqlite3_parley"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			// RE2 runs in time linear in its input, so no pattern can stall a query.
			return c.RegisterFunc("parley_regexp", regexpMatch, true)
		},
	})
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tune how the database file is opened.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "full" (default) fsyncs the
	// WAL on every commit, so a 201 survives power loss; "normal" survives a
	// process crash only.
	Synchronous string
	// Readers is the size of the read pool (default 4).
	Readers int
	// MaxBatch caps how many queued writes share one transaction (default 256).
	MaxBatch int
	// PageSize is the page size of a database file created now (default
	// 1024 bytes); an existing file keeps its own. Every commit writes each
	// page it changed to the WAL, and a message changes a page in every
	// table and index it touches: with SQLite's 4 KiB default a durable
	// send cost 39 µs of CPU in the store, with 1 KiB pages 28 µs.
	PageSize int
	// CheckpointInterval is how often the WAL is copied into the database
	// file (default 250ms).
	CheckpointInterval time.Duration
	// Log receives what Open changes on its own (default slog.Default()).
	Log *slog.Logger
	// Registerer is where the database's metrics are registered (nil:
	// nowhere; they still count). A server passes its own.
	Registerer prometheus.Registerer
}

// defaultPageSize is the page size of new database files.
const defaultPageSize = 1024

// DB is the database: one writer connection fed by a group-commit queue and a
// separate pool of read connections.
type DB struct {
	write   *sqlx.DB
	read    *readPool
	readers int
	w       *writer
	mids    midGen   // hands out message ids (see NextMessageID)
	metrics *metrics // registered with Options.Registerer
	// diskFullAt is when the most recent write failed for want of disk
	// space (unix ns); 0 once a write succeeded since.
	diskFullAt atomic.Int64
	lock       *os.File // holds the exclusive lock of the file (see lockFile)
}

// ErrInUse is returned by Open when another DB holds the file: a running
// server, or an import.
var ErrInUse = errors.New("store: the database is in use by another Parley process (a running server or an import)")

// lockFile takes an exclusive advisory lock of the database file for as
// long as the DB is open. Only one Parley process at a time may write a
// database: the server keeps state beside it (conversations cached by the
// writer, message ids, sessions online) that another writer's changes would
// silently contradict. The kernel drops the lock when the process ends,
// however it ends. SQLite's own locks are POSIX record locks, which flock
// locks do not touch.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrInUse, path)
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return f, nil
}

// Open opens (creating if needed) the SQLite database at path, applies the
// embedded migrations and starts the writer.
func Open(path string, opt Options) (*DB, error) {
	if opt.Synchronous == "" {
		opt.Synchronous = "full"
	}
	switch opt.Synchronous {
	case "full", "normal":
	default:
		return nil, fmt.Errorf("store: synchronous must be full or normal, not %q", opt.Synchronous)
	}
	if opt.Readers <= 0 {
		opt.Readers = 4
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.CheckpointInterval <= 0 {
		opt.CheckpointInterval = 250 * time.Millisecond
	}
	if opt.PageSize <= 0 {
		opt.PageSize = defaultPageSize
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data directory: %w", err)
		}
	}
	if err := private(path, opt.Log); err != nil {
		return nil, err
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	db, err := open(path, opt)
	if err != nil {
		lock.Close()
		return nil, err
	}
	db.lock = lock
	return db, nil
}

func open(path string, opt Options) (*DB, error) {
	if err := create(path, opt.PageSize); err != nil {
		return nil, err
	}
	// Pragmas go in the DSN so that every connection the pools open has them.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	// "full" durability is had without SQLite fsyncing every commit: it
	// commits with synchronous=NORMAL and the writer fsyncs the WAL itself,
	// once for every batch committed meanwhile, before answering any of them.
	q.Set("_synchronous", "NORMAL")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	// go-sqlite3 keeps this many prepared statements per connection, so the
	// hot queries are parsed once, not on every call.
	q.Set("_stmt_cache_size", "256")
	// 8 MiB of page cache per connection (SQLite's default is 2 MiB): index
	// lookups over large tables stay in memory. It fills only as pages are read.
	q.Set("_cache_size", "-8192")
	write, err := sqlx.Open(driverName, "file:"+sqliteURIPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// The writer holds one connection for good; a second serves the rare
	// direct use (tests, diagnostics) without waiting on the writer.
	write.SetMaxOpenConns(2)
	write.SetMaxIdleConns(2)
	write.SetConnMaxLifetime(0)
	if err := migrate(write); err != nil {
		write.Close()
		return nil, err
	}
	q.Set("_txlock", "deferred")
	q.Set("_query_only", "on")
	read, err := sqlx.Open(driverName, "file:"+sqliteURIPath(path)+"?"+q.Encode())
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(opt.Readers)
	read.SetMaxIdleConns(opt.Readers)
	db := &DB{write: write, read: newReadPool(read), readers: opt.Readers, metrics: newMetrics(opt.Registerer)}
	if err := db.initMessageIDs(); err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	var sync func() error
	if opt.Synchronous == "full" {
		sync = walSyncer(path)
	}
	if db.w, err = newWriter(write, &db.mids, db.metrics, opt.MaxBatch, opt.CheckpointInterval, sync); err != nil {
		read.Close()
		write.Close()
		return nil, err
	}
	return db, nil
}

// private makes the database file, and its WAL and shared-memory files if
// they exist, readable by their owner only: the file holds the master key
// and the secret that signs session tokens. It creates the file (empty,
// which SQLite takes for a new database) before SQLite does, since SQLite
// creates it 0644 (less the umask) and gives the -wal and -shm files it
// creates later the database file's mode. An existing file open to others
// is tightened, and the log says so.
func private(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	f.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(name, 0o600); err != nil {
				return fmt.Errorf("store: make %s private: %w", name, err)
			}
			log.Warn("database file was readable by other users; made it 0600", "file", name, "was", mode.String())
		}
	}
	return nil
}

// walSyncer returns a function that fsyncs the database's WAL file, which
// makes every transaction committed so far durable.
func walSyncer(path string) func() error {
	var f *os.File
	return func() error {
		if f == nil {
			var err error
			if f, err = os.OpenFile(path+"-wal", os.O_RDWR, 0); err != nil {
				return err
			}
		}
		return f.Sync()
	}
}

// sqliteURIPath escapes the characters that end or encode the path of an
// SQLite URI filename, so that every file name opens as itself.
func sqliteURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// create makes a new, empty database file with the page size, in WAL mode,
// unless path holds a database already. The page size can only be chosen
// before the first page is written, and the DSN's journal_mode would write
// it, so this is done on a connection of its own before the pools open.
func create(path string, pageSize int) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("store: page size %d is not a power of two from 512 to 65536", pageSize)
	}
	db, err := sqlx.Open(driverName, "file:"+sqliteURIPath(path))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return fmt.Errorf("store: page size: %w", err)
	}
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("store: WAL mode: %w", err)
	}
	return nil
}

// IsDiskFull reports whether err is a write that failed for want of disk
// space: SQLite's SQLITE_FULL, or ENOSPC from the file system (the WAL's
// fsync, an upload's bytes).
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrFull || se.SystemErrno == syscall.ENOSPC) {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// NoteWrite records the outcome of a write: one that failed for want of
// disk space (IsDiskFull) marks the disk full, a success clears the mark,
// any other failure leaves it. Write notes its own; writes to files beside
// the database (uploads) note theirs with this.
func (db *DB) NoteWrite(err error) {
	switch {
	case err == nil:
		if db.diskFullAt.Load() != 0 {
			db.diskFullAt.Store(0)
		}
	case IsDiskFull(err):
		db.diskFullAt.Store(time.Now().UnixNano())
	}
}

// DiskFull reports whether the most recent write failed for want of disk
// space, and when.
func (db *DB) DiskFull() (since time.Time, full bool) {
	at := db.diskFullAt.Load()
	if at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// ProbeWrite makes a small write (a settings row), to learn whether the
// disk takes writes again; its outcome is noted as any write's is.
func (db *DB) ProbeWrite(ctx context.Context) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	return db.Write(ctx, func(tx *Tx) error { return tx.PutSetting("write_probe", now) }, nil)
}

// OnReset registers f to run on the writer goroutine whenever a whole
// transaction is lost (a failed commit, an abort): state mirrored from
// uncommitted writes must then be dropped.
func (db *DB) OnReset(f func()) { db.w.onReset.Store(&f) }

// Close stops the writer after it has committed everything queued, then
// closes both pools.
func (db *DB) Close() error {
	db.w.close()
	return errors.Join(db.read.Close(), db.write.Close(), db.lock.Close())
}

// Closed reports whether Close has begun.
func (db *DB) Closed() bool {
	select {
	case <-db.w.closing:
		return true
	default:
		return false
	}
}

// Readers is the size of the read pool: how many reads run at once.
func (db *DB) Readers() int { return db.readers }

// Ping checks that a read connection answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// migrate applies every embedded migration newer than the file's
// user_version, each in its own transaction with the version bump, and
// refuses a database written by a newer Parley.
func migrate(db *sqlx.DB) error {
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return err
	}
	type step struct {
		version int
		name    string
	}
	var steps []step
	for _, e := range names {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("store: migration %s: name must start with a number", e.Name())
		}
		steps = append(steps, step{v, e.Name()})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].version < steps[j].version })

	var current int
	if err := db.Get(&current, "PRAGMA user_version"); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if latest := steps[len(steps)-1].version; current > latest {
		return fmt.Errorf("store: database schema version %d is newer than this build supports (%d)", current, latest)
	}
	for _, s := range steps {
		if s.version <= current {
			continue
		}
		script, err := migrationFiles.ReadFile("migrations/" + s.name)
		if err != nil {
			return err
		}
		tx, err := db.Beginx()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(script)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", s.name, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", s.version)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %s: %w", s.name, err)
		}
	}
	return nil
}

// Setting reads one value of the settings table; ok is false when unset.
func (db *DB) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = db.read.GetContext(ctx, &value, "SELECT value FROM settings WHERE key = ?", key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// ReadSetting reads one value of the settings table of the database file at
// path, for a tool beside the server (`parley master-key`): it opens the file
// read-only, never creates it, and may run while the server does.
func ReadSetting(path, key string) (value string, ok bool, err error) {
	if _, err := os.Stat(path); err != nil {
		return "", false, fmt.Errorf("store: %w", err)
	}
	db, err := sqlx.Open(driverName, "file:"+sqliteURIPath(path)+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return "", false, err
	}
	defer db.Close()
	err = db.Get(&value, "SELECT value FROM settings WHERE key = ?", key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: %s: %w", path, err)
	}
	return value, true, nil
}

// PutSetting stores the value of key, replacing any.
func (t *Tx) PutSetting(key, value string) error {
	_, err := t.Exec("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// SettingOrInit returns the stored value of key, storing init() first when
// the key is unset. The first writer wins, so concurrent starts agree.
func (db *DB) SettingOrInit(ctx context.Context, key string, init func() string) (value string, created bool, err error) {
	err = db.Write(ctx, func(tx *Tx) error {
		value, created = "", false
		err := tx.Get(&value, "SELECT value FROM settings WHERE key = ?", key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		value, created = init(), true
		_, err = tx.Exec("INSERT INTO settings(key, value) VALUES (?, ?)", key, value)
		return err
	}, nil)
	return value, created, err
}
