package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// openTestDB opens a fresh database in a temporary directory and closes it
// when the test ends.
func openTestDB(t *testing.T, opt Options) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "test.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var ctx = context.Background()

// putSetting is a write job that stores one settings row.
func putSetting(key, value string) func(*Tx) error {
	return func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO settings(key, value) VALUES (?, ?)", key, value)
		return err
	}
}

func settingKeys(t *testing.T, db *DB, prefix string) []string {
	t.Helper()
	keys := []string{}
	if err := db.read.Select(&keys, "SELECT key FROM settings WHERE key LIKE ? ORDER BY key", prefix+"%"); err != nil {
		t.Fatal(err)
	}
	return keys
}

// holdWriter queues a job that blocks the writer until the returned release
// is called, so that the writes queued meanwhile form the next batch. The
// returned wait reports the blocking write's result.
func holdWriter(t *testing.T, db *DB) (release func(), wait func() error) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- db.Write(ctx, func(*Tx) error {
			close(entered)
			<-gate
			return nil
		}, nil)
	}()
	<-entered
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release, func() error { return <-res }
}

// waitQueued waits until n jobs wait in the writer's queue.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(db.w.jobs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs queued, want %d", len(db.w.jobs), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// jobSpec is one queued write of a batch and what it should do.
type jobSpec struct {
	name    string
	fn      func(*Tx) error // writes the settings row "b/<name>" unless it fails
	wantErr string          // substring of the error Write returns; "" for success
	commits bool            // whether its row is in the database afterwards
	aborts  bool            // makes SQLite roll back the whole transaction
}

func TestWriterBatchIsolatesFailures(t *testing.T) {
	errBoom := errors.New("boom")
	ok := func(name string) func(*Tx) error { return putSetting("b/"+name, name) }
	tests := []struct {
		name string
		jobs []jobSpec
	}{
		{"all succeed", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "b", fn: ok("b"), commits: true},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"error after writing rolls back alone", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "b", fn: func(tx *Tx) error {
				if err := putSetting("b/b", "b")(tx); err != nil {
					return err
				}
				if err := putSetting("b/b2", "b")(tx); err != nil {
					return err
				}
				return errBoom
			}, wantErr: "boom"},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"SQL constraint error", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "dup", fn: func(tx *Tx) error {
				if err := putSetting("b/dup", "1")(tx); err != nil {
					return err
				}
				return putSetting("b/dup", "2")(tx) // primary key violation
			}, wantErr: "UNIQUE constraint failed"},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"first and last fail", []jobSpec{
			{name: "a", fn: func(tx *Tx) error { putSetting("b/a", "a")(tx); return errBoom }, wantErr: "boom"},
			{name: "b", fn: ok("b"), commits: true},
			{name: "c", fn: func(tx *Tx) error { putSetting("b/c", "c")(tx); return errBoom }, wantErr: "boom"},
		}},
		{"panic becomes an error", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "p", fn: func(tx *Tx) error {
				putSetting("b/p", "p")(tx)
				panic("job exploded")
			}, wantErr: "job exploded"},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"nil pointer panic", []jobSpec{
			{name: "p", fn: func(tx *Tx) error {
				putSetting("b/p", "p")(tx)
				var m map[string]*int
				return fmt.Errorf("%d", *m["x"])
			}, wantErr: "panicked"},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"OR ROLLBACK conflict aborts the whole transaction: the others run again", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "r", fn: func(tx *Tx) error {
				if err := putSetting("b/r", "1")(tx); err != nil {
					return err
				}
				_, err := tx.Exec("INSERT OR ROLLBACK INTO settings(key, value) VALUES ('b/r', '2')")
				return err
			}, wantErr: "UNIQUE constraint failed", aborts: true},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"an aborting job that swallows its error still fails", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "r", fn: func(tx *Tx) error {
				putSetting("b/r", "1")(tx)
				tx.Exec("INSERT OR ROLLBACK INTO settings(key, value) VALUES ('b/r', '2')")
				return nil
			}, wantErr: "aborted", aborts: true},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"interrupted statement (its context ended) aborts the whole transaction", []jobSpec{
			{name: "a", fn: ok("a"), commits: true},
			{name: "i", fn: func(tx *Tx) error {
				ictx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				defer cancel()
				_, err := tx.ExecContext(ictx, `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n)
					INSERT INTO settings(key, value) SELECT 'b/i' || x, 'v' FROM n`)
				return err
			}, wantErr: "deadline exceeded", aborts: true},
			{name: "c", fn: ok("c"), commits: true},
		}},
		{"two jobs write the same key: the second fails alone", []jobSpec{
			{name: "x", fn: putSetting("b/x", "first"), commits: true},
			{name: "x2", fn: putSetting("b/x", "second"), wantErr: "UNIQUE constraint failed"},
			{name: "y", fn: ok("y"), commits: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t, Options{})
			release, waitHold := holdWriter(t, db)

			var mu sync.Mutex
			var afters []string
			txs := make([]*Tx, len(tt.jobs))
			errs := make([]error, len(tt.jobs))
			var wg sync.WaitGroup
			for i, j := range tt.jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = db.Write(ctx, func(tx *Tx) error {
						txs[i] = tx
						return j.fn(tx)
					}, func() {
						mu.Lock()
						afters = append(afters, j.name)
						mu.Unlock()
					})
				}()
				waitQueued(t, db, i+1) // queue in a known order
			}
			release()
			wg.Wait()
			if err := waitHold(); err != nil {
				t.Fatal(err)
			}

			var wantAfters, wantKeys []string
			aborts := slices.ContainsFunc(tt.jobs, func(j jobSpec) bool { return j.aborts })
			for i, j := range tt.jobs {
				if !aborts && txs[i] != txs[0] {
					t.Errorf("job %s ran in another transaction than job %s: not one batch", j.name, tt.jobs[0].name)
				}
				switch {
				case j.wantErr == "" && errs[i] != nil:
					t.Errorf("job %s: %v", j.name, errs[i])
				case j.wantErr != "" && (errs[i] == nil || !strings.Contains(errs[i].Error(), j.wantErr)):
					t.Errorf("job %s: error %v, want one containing %q", j.name, errs[i], j.wantErr)
				}
				if j.commits {
					wantAfters = append(wantAfters, j.name)
					wantKeys = append(wantKeys, "b/"+j.name)
				}
			}
			for i, j := range tt.jobs {
				if j.wantErr == "boom" && !errors.Is(errs[i], errBoom) {
					t.Errorf("job %s: error %v is not the job's own error", j.name, errs[i])
				}
			}
			slices.Sort(wantKeys)
			if got := settingKeys(t, db, "b/"); !slices.Equal(got, wantKeys) {
				t.Errorf("committed rows %q, want %q", got, wantKeys)
			}
			if !slices.Equal(afters, wantAfters) {
				t.Errorf("after callbacks ran for %q, want %q (committed jobs, in commit order)", afters, wantAfters)
			}
			// The writer survives whatever the batch did.
			if err := db.Write(ctx, putSetting("after/ok", "1"), nil); err != nil {
				t.Fatalf("write after the batch: %v", err)
			}
		})
	}
}

func TestWriterConcurrentWritesAreBatchedAndCommitted(t *testing.T) {
	for _, tt := range []struct {
		name      string
		maxBatch  int
		writers   int
		wantBatch int // the largest batch seen must reach this
	}{
		{"default batch", 0, 200, 100},
		{"small batches", 8, 100, 8},
		{"batch of one", 1, 20, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t, Options{MaxBatch: tt.maxBatch})
			release, waitHold := holdWriter(t, db)

			var mu sync.Mutex
			perTx := map[*Tx]int{}
			var afters []int
			var wg sync.WaitGroup
			errs := make(chan error, tt.writers)
			for i := range tt.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- db.Write(ctx, func(tx *Tx) error {
						mu.Lock()
						perTx[tx]++
						mu.Unlock()
						return putSetting(fmt.Sprintf("c/%04d", i), "v")(tx)
					}, func() {
						mu.Lock()
						afters = append(afters, i)
						mu.Unlock()
					})
				}()
			}
			// Let the writers pile up behind the held job (as many as fit).
			queued := min(tt.writers, cap(db.w.jobs))
			waitQueued(t, db, queued)
			release()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := waitHold(); err != nil {
				t.Fatal(err)
			}
			if n := len(settingKeys(t, db, "c/")); n != tt.writers {
				t.Fatalf("%d rows committed, want %d", n, tt.writers)
			}
			if len(afters) != tt.writers {
				t.Fatalf("%d after callbacks, want %d", len(afters), tt.writers)
			}
			largest, total := 0, 0
			for _, n := range perTx {
				largest = max(largest, n)
				total += n
			}
			if total != tt.writers {
				t.Errorf("jobs ran %d times, want %d (once each)", total, tt.writers)
			}
			maxBatch := tt.maxBatch
			if maxBatch == 0 {
				maxBatch = 256
			}
			if largest < tt.wantBatch || largest > maxBatch {
				t.Errorf("largest batch %d, want between %d and %d", largest, tt.wantBatch, maxBatch)
			}
			t.Logf("%d writes in %d transactions", tt.writers, len(perTx))
		})
	}
}

// TestWriterAfterRunsBeforeWriteReturns checks that a write's after callback
// has run by the time Write returns and sees the committed state.
func TestWriterAfterRunsBeforeWriteReturns(t *testing.T) {
	db := openTestDB(t, Options{})
	for i := range 20 {
		key := fmt.Sprintf("r/%d", i)
		var ran bool
		var visible string
		err := db.Write(ctx, putSetting(key, "v"), func() {
			ran = true
			visible, _, _ = db.Setting(ctx, key) // committed: readers see it
		})
		if err != nil {
			t.Fatal(err)
		}
		if !ran || visible != "v" {
			t.Fatalf("write %d: after ran=%v and saw %q, want it run and seeing the commit", i, ran, visible)
		}
	}
}

func TestWriterCloseCommitsQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "close.db")
	db, err := Open(path, Options{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	release, waitHold := holdWriter(t, db)
	const n = 4 // fills the queue
	errs := make(chan error, n)
	var afterMu sync.Mutex
	afters := 0
	for i := range n {
		go func() {
			errs <- db.Write(ctx, putSetting(fmt.Sprintf("q/%d", i), "v"), func() {
				afterMu.Lock()
				afters++
				afterMu.Unlock()
			})
		}()
	}
	waitQueued(t, db, n)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Close waits for the queue; let it start closing, then let the writer go.
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-db.w.closing:
		default:
			if time.Now().After(deadline) {
				t.Fatal("Close did not start")
			}
			time.Sleep(100 * time.Microsecond)
			continue
		}
		break
	}
	release()
	if err := waitHold(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("write queued before Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if afters != n {
		t.Errorf("%d after callbacks, want %d", afters, n)
	}

	// Reopen: everything queued before Close is there.
	db2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got := settingKeys(t, db2, "q/"); len(got) != n {
		t.Errorf("after reopening: %q, want %d rows", got, n)
	}
}

func TestWriteAfterCloseReturnsErrClosed(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "closed.db"), Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// More writes than the queue holds: none may block or run.
	for i := range 50 {
		ran := false
		done := make(chan error, 1)
		go func() {
			done <- db.Write(ctx, func(*Tx) error { ran = true; return nil }, nil)
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("write %d after Close: %v, want ErrClosed", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("write %d after Close blocked", i)
		}
		if ran {
			t.Fatalf("write %d after Close ran", i)
		}
	}
	// Closing twice is harmless.
	db.w.close()
}

func TestWriteCanceledBeforeQueued(t *testing.T) {
	db := openTestDB(t, Options{MaxBatch: 1})
	release, waitHold := holdWriter(t, db)
	// Fill the one-slot queue so that the next write cannot be queued.
	queued := make(chan error, 1)
	go func() { queued <- db.Write(ctx, putSetting("k/queued", "v"), nil) }()
	waitQueued(t, db, 1)

	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() { res <- db.Write(cctx, putSetting("k/canceled", "v"), nil) }()
	time.Sleep(5 * time.Millisecond)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled write: %v, want context.Canceled", err)
	}
	release()
	if err := waitHold(); err != nil {
		t.Fatal(err)
	}
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	if got := settingKeys(t, db, "k/"); !slices.Equal(got, []string{"k/queued"}) {
		t.Errorf("rows %q, want only the queued write's", got)
	}
}

// TestWriteQueuedThenCanceledStillReportsCommit checks that a write whose
// context ends after it was queued still waits for, and reports, its commit.
func TestWriteQueuedThenCanceledStillReportsCommit(t *testing.T) {
	db := openTestDB(t, Options{})
	release, waitHold := holdWriter(t, db)
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() { res <- db.Write(cctx, putSetting("k/late", "v"), nil) }()
	waitQueued(t, db, 1)
	cancel()
	select {
	case err := <-res:
		t.Fatalf("write returned %v before its transaction committed", err)
	case <-time.After(10 * time.Millisecond):
	}
	release()
	if err := <-res; err != nil {
		t.Fatalf("queued write: %v, want its commit reported", err)
	}
	if err := waitHold(); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := db.Setting(ctx, "k/late"); !ok || v != "v" {
		t.Errorf("queued write not committed")
	}
}

// TestWritesAreAnsweredOnlyAfterTheWALSync checks the durability contract of
// Synchronous "full": the WAL is fsynced after the commit and before any
// write of the batch is announced or answered.
func TestWritesAreAnsweredOnlyAfterTheWALSync(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "sync.db"), Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var syncs atomic.Int32
	w, err := newWriter(db.write, &db.mids, db.metrics, 8, time.Hour, func() error { syncs.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	d := &DB{write: db.write, read: db.read, w: w}
	var seen []int32
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := d.Write(context.Background(), func(tx *Tx) error {
				_, err := tx.Exec("INSERT INTO settings(key, value) VALUES (?, 'x')", fmt.Sprint("k", i))
				return err
			}, func() {
				mu.Lock()
				seen = append(seen, syncs.Load())
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
			if syncs.Load() == 0 {
				t.Error("a write was answered before any WAL sync")
			}
		}(i)
	}
	wg.Wait()
	for _, n := range seen {
		if n == 0 {
			t.Fatal("a write was announced before the WAL sync")
		}
	}

	w.close() // each writer holds a connection of the two
	failing, err := newWriter(db.write, &db.mids, db.metrics, 8, time.Hour, func() error { return errors.New("disk gone") })
	if err != nil {
		t.Fatal(err)
	}
	defer failing.close()
	f := &DB{write: db.write, read: db.read, w: failing}
	announced := false
	err = f.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO settings(key, value) VALUES ('lost', 'x')")
		return err
	}, func() { announced = true })
	if err == nil || announced {
		t.Fatalf("a write whose WAL sync failed: err %v, announced %v; want an error and no announcement", err, announced)
	}
}

// TestWALStartsOverWhileWritesNeverPause checks that the WAL is started
// over after a checkpoint pass even when the writer goes from one
// transaction straight to the next, as it does under a steady load. SQLite
// starts the WAL over only when a write transaction begins with every frame
// already copied into the database file; a pass beside the writer never
// sees the transaction that commits while it runs, so without the writer
// finishing the pass the WAL would grow without bound.
func TestWALStartsOverWhileWritesNeverPause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	db, err := Open(path, Options{Synchronous: "normal", CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 50 {
		if err := db.Write(ctx, putSetting(fmt.Sprint("before", i), strings.Repeat("v", 500)), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Each start over bumps the checkpoint sequence in the WAL's header.
	startsOver := func() uint32 {
		f, err := os.Open(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var hdr [16]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint32(hdr[12:])
	}
	before := startsOver()

	// A pass runs while a transaction that writes is open, and the next
	// write is queued before that transaction commits: the writer never
	// waits in between.
	entered, gate := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.Write(ctx, func(tx *Tx) error {
			if err := putSetting("held", "x")(tx); err != nil {
				return err
			}
			close(entered)
			<-gate
			return nil
		}, nil)
	}()
	<-entered
	db.w.checkpointPass()
	next := make(chan error, 1)
	go func() { next <- db.Write(ctx, putSetting("next", "x"), nil) }()
	waitQueued(t, db, 1)
	close(gate)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	if startsOver() == before {
		t.Fatal("the WAL did not start over after the checkpoint pass")
	}
}

// TestCheckpointPassLeavesTheWriterAloneWhileAReaderHoldsFrames: when a
// reader's snapshot keeps a pass from copying every frame, the writer is
// not asked to finish it (it would copy the rest itself, stalling writes).
func TestCheckpointPassLeavesTheWriterAloneWhileAReaderHoldsFrames(t *testing.T) {
	db := openTestDB(t, Options{Synchronous: "normal", CheckpointInterval: time.Hour})
	if err := db.Write(ctx, putSetting("a", "1"), nil); err != nil {
		t.Fatal(err)
	}
	reader, err := db.read.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.Get(&n, "SELECT count(*) FROM settings"); err != nil { // the snapshot starts here
		t.Fatal(err)
	}
	if err := db.Write(ctx, putSetting("b", "2"), nil); err != nil {
		t.Fatal(err)
	}
	// The writer is kept busy, so that a request to finish stays queued.
	release, wait := holdWriter(t, db)
	db.w.checkpointPass()
	if len(db.w.checkpointed) != 0 {
		t.Fatal("the writer was asked to finish a pass that a reader held back")
	}
	reader.Rollback()
	db.w.checkpointPass()
	if len(db.w.checkpointed) != 1 {
		t.Fatal("the writer was not asked to finish a complete pass")
	}
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// A write refused for want of disk space — SQLite's SQLITE_FULL, or ENOSPC
// from the WAL's fsync — marks the disk full (DiskFull) until a write
// succeeds again.
func TestDiskFullIsNotedUntilAWriteSucceeds(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "full.db"), Options{Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	insert := func(d *DB, key string, size int) error {
		return d.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO settings(key, value) VALUES (?, ?)", key, strings.Repeat("v", size))
			return err
		}, nil)
	}
	pragma := func(sql string) {
		t.Helper()
		if err := db.Write(ctx, func(tx *Tx) error { _, err := tx.Exec(sql); return err }, nil); err != nil {
			t.Fatal(err)
		}
	}

	// A real SQLITE_FULL: no page beyond those the file has.
	var pages int
	if err := db.Write(ctx, func(tx *Tx) error { return tx.Get(&pages, "PRAGMA page_count") }, nil); err != nil {
		t.Fatal(err)
	}
	pragma(fmt.Sprint("PRAGMA max_page_count = ", pages))
	err = insert(db, "big", 64<<10)
	if !IsDiskFull(err) {
		t.Fatalf("a write beyond max_page_count: %v, want a full disk", err)
	}
	if _, full := db.DiskFull(); !full {
		t.Error("DiskFull after SQLITE_FULL: false")
	}
	if err := db.Write(ctx, func(*Tx) error { return errors.New("a rule") }, nil); err == nil {
		t.Fatal("a failing write succeeded")
	}
	if _, full := db.DiskFull(); !full {
		t.Error("a failure of another kind cleared DiskFull")
	}
	pragma("PRAGMA max_page_count = 1073741823")
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatal(err)
	}
	if _, full := db.DiskFull(); full {
		t.Error("DiskFull after a write succeeded: true")
	}

	// ENOSPC from the WAL's fsync, as os.File.Sync reports it.
	db.w.close()
	failing, err := newWriter(db.write, &db.mids, db.metrics, 8, time.Hour, func() error {
		return &os.PathError{Op: "sync", Path: "full.db-wal", Err: syscall.ENOSPC}
	})
	if err != nil {
		t.Fatal(err)
	}
	db.w = failing
	if err := insert(db, "synced", 10); !IsDiskFull(err) {
		t.Errorf("a write whose fsync failed with ENOSPC: %v, want a full disk", err)
	}
	if _, full := db.DiskFull(); !full {
		t.Error("DiskFull after the fsync's ENOSPC: false")
	}
}

func TestIsDiskFull(t *testing.T) {
	enospc := &os.PathError{Op: "write", Path: "files/.upload-1", Err: syscall.ENOSPC}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("disk gone"), false},
		{sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{fmt.Errorf("store: commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.ENOSPC}, true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, SystemErrno: syscall.EIO}, false},
		{sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{fmt.Errorf("store: committed but not made durable: %w", enospc), true},
		{fmt.Errorf("files: write: %w", enospc), true},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.EIO}, false},
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
