package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// ErrClosed is returned by Write once the database is shutting down.
var ErrClosed = errors.New("store: closed")

// Tx is one queued write's view of the shared group-commit transaction. Its
// changes are isolated by a savepoint: a failing write rolls back alone.
type Tx struct {
	*sqlx.Tx
	queued []*Message // inserted together by Flush
	mids   *midGen    // the database's message ids
}

type job struct {
	fn    func(*Tx) error
	after func()
	err   error // the outcome of fn in its committed transaction
	done  chan error
}

// writer is the only goroutine that writes to the database. Writes queue up
// while a transaction commits and are then committed together, so the cost
// of a commit is shared by every write in the batch.
//
// A committed batch goes to the announcer goroutine, which makes it durable
// (one fsync of the WAL for every batch committed since the last one), runs
// the after callbacks in commit order and answers the writers. The writer
// meanwhile builds the next batch: SQL work, fsync and announcing overlap.
type writer struct {
	onReset    atomic.Pointer[func()] // called when a whole transaction was lost
	db         *sqlx.DB
	mids       *midGen // the database's message ids, for its transactions
	metrics    *metrics
	conn       *sqlx.Conn // the one write connection, held for good
	savepoints savepoints
	maxBatch   int
	jobs       chan *job
	committed  chan []*job // to the announcer
	// checkpointed says that the checkpointer finished a pass.
	checkpointed       chan struct{}
	checkpointInterval time.Duration
	sync               func() error // makes committed transactions durable; nil: no fsync
	closing            chan struct{}
	stopped            chan struct{}
	once               sync.Once
}

func newWriter(db *sqlx.DB, mids *midGen, m *metrics, maxBatch int, checkpointInterval time.Duration, sync func() error) (*writer, error) {
	sp, err := prepareSavepoints(db)
	if err != nil {
		return nil, err
	}
	conn, err := db.Connx(context.Background())
	if err != nil {
		return nil, err
	}
	// Checkpoints run beside the writer (see checkpointer), never inside a
	// commit, where they would stall every write waiting behind it; the
	// writer only finishes a pass, between two transactions.
	// A WAL that grew (a long read held checkpoints back) is cut back to
	// this size when it next starts over. A batch's INSERT keeps a statement
	// journal of the pages it changes; past 64 KiB SQLite spilled it into a
	// temporary file, created and deleted for every large batch (≈ 80 a
	// second in the send scenario): temp_store keeps it in memory.
	for _, pragma := range []string{"PRAGMA wal_autocheckpoint = 0", "PRAGMA journal_size_limit = 67108864", "PRAGMA temp_store = MEMORY"} {
		if _, err := conn.ExecContext(context.Background(), pragma); err != nil {
			conn.Close()
			return nil, err
		}
	}
	w := &writer{
		db:                 db,
		mids:               mids,
		metrics:            m,
		conn:               conn,
		savepoints:         sp,
		maxBatch:           maxBatch,
		jobs:               make(chan *job, maxBatch),
		committed:          make(chan []*job, 64),
		checkpointed:       make(chan struct{}, 1),
		checkpointInterval: checkpointInterval,
		sync:               sync,
		closing:            make(chan struct{}),
		stopped:            make(chan struct{}),
	}
	go w.run()
	go w.announce()
	go w.checkpointer()
	return w, nil
}

// checkpointer copies the WAL into the database file on another connection,
// without blocking the writer (PASSIVE), until the writer stops. After each
// pass it asks the writer to finish the checkpoint (see finishCheckpoint).
func (w *writer) checkpointer() {
	t := time.NewTicker(w.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-w.closing:
			return
		case <-t.C:
			w.checkpointPass()
		}
	}
}

// checkpointPass copies the WAL into the database file as far as no
// reader needs it. When it copied every frame there was, it asks the writer
// to finish the pass: what is left for the writer is then only what was
// committed while the pass ran, so the writer never stops for long.
func (w *writer) checkpointPass() {
	var busy, frames, copied int
	err := w.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err != nil || copied < frames {
		return // a reader holds frames back; the next pass tries again
	}
	select {
	case w.checkpointed <- struct{}{}:
	default:
	}
}

// finishCheckpoint copies into the database file what was committed while
// the checkpointer's last pass ran, on the writer's own connection between
// two transactions. SQLite starts the WAL over from its beginning only when
// a write transaction begins with every frame copied: under a steady load
// a pass beside the writer never sees that, and the WAL would grow without
// bound (0.6 GB in ten seconds of sends), every fsync of it growing the
// file too. What is left after a pass is a few hundred frames.
func (w *writer) finishCheckpoint() {
	w.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
}

// announce makes committed batches durable and answers them, in order.
func (w *writer) announce() {
	defer close(w.stopped)
	var ready [][]*job
	for batch := range w.committed {
		// Take every batch already committed: one fsync serves them all.
		ready = append(ready[:0], batch)
	more:
		for {
			select {
			case b, ok := <-w.committed:
				if !ok {
					break more
				}
				ready = append(ready, b)
			default:
				break more
			}
		}
		var syncErr error
		if w.sync != nil {
			if syncErr = w.sync(); syncErr != nil {
				syncErr = fmt.Errorf("store: committed but not made durable: %w", syncErr)
			}
		}
		for _, b := range ready {
			for _, j := range b {
				err := j.err
				if err == nil {
					err = syncErr
				}
				if err == nil && j.after != nil {
					j.after()
				}
				j.done <- err
			}
		}
		clear(ready)
	}
}

func (w *writer) reset() {
	if f := w.onReset.Load(); f != nil {
		(*f)()
	}
}

// savepoints are the statements that isolate each write of a batch,
// prepared once: sqlite3_exec would parse them anew for every write.
type savepoints struct {
	save, rollback, release *sqlx.Stmt
}

func prepareSavepoints(db *sqlx.DB) (savepoints, error) {
	var sp savepoints
	var err error
	for _, p := range []struct {
		into **sqlx.Stmt
		sql  string
	}{{&sp.save, "SAVEPOINT w"}, {&sp.rollback, "ROLLBACK TO w"}, {&sp.release, "RELEASE w"}} {
		if *p.into, err = db.Preparex(p.sql); err != nil {
			return sp, fmt.Errorf("store: prepare %s: %w", p.sql, err)
		}
	}
	return sp, nil
}

// in binds the prepared savepoint statements to a transaction.
func (sp savepoints) in(tx *sqlx.Tx) savepoints {
	return savepoints{save: tx.Stmtx(sp.save), rollback: tx.Stmtx(sp.rollback), release: tx.Stmtx(sp.release)}
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan error, 1)} }}

// Write runs fn inside the writer's next transaction and returns once that
// transaction has committed and is durable (or fn failed). after, if not
// nil, runs right after that, in commit order, on the announcer goroutine: it
// is where committed changes are announced, so that every observer sees them
// in the order they were made. after must not block, and must not touch
// state that fn functions use (they run on the writer goroutine meanwhile).
//
// fn may run more than once: when another write in its batch makes SQLite
// abort the whole transaction, fn runs again in a new one. So fn must set
// everything it reports to its caller afresh on each run.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error, after func()) error {
	w := db.w
	j := jobPool.Get().(*job)
	j.fn, j.after = fn, after
	select {
	case w.jobs <- j:
	case <-w.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the job will run: wait for it regardless of ctx so that the
	// caller never reports failure for a write that committed.
	var err error
	select {
	case err = <-j.done:
	case <-w.stopped:
		select {
		case err = <-j.done:
		default:
			return ErrClosed
		}
	}
	j.fn, j.after, j.err = nil, nil, nil
	jobPool.Put(j)
	db.NoteWrite(err)
	return err
}

func (w *writer) close() {
	w.once.Do(func() { close(w.closing) })
	<-w.stopped
	w.conn.Close()
}

func (w *writer) run() {
	defer close(w.committed)
	batch := make([]*job, 0, w.maxBatch)
	for {
		var first *job
		select {
		case <-w.checkpointed:
			w.finishCheckpoint()
			continue
		case first = <-w.jobs:
		case <-w.closing:
			// Commit whatever was queued before the close.
			for {
				batch = batch[:0]
				for len(batch) < w.maxBatch {
					select {
					case j := <-w.jobs:
						batch = append(batch, j)
						continue
					default:
					}
					break
				}
				if len(batch) == 0 {
					return
				}
				w.commit(batch)
			}
		}
		batch = append(batch[:0], first)
		// Let the handlers that are ready to queue a write do so first: on a
		// busy machine that makes batches of ~10 instead of ~3 and saves ~15 %
		// of the server's CPU per message; on an idle one it returns at once.
		runtime.Gosched()
	fill:
		for len(batch) < w.maxBatch {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		w.commit(batch)
		select {
		case <-w.checkpointed:
			w.finishCheckpoint()
		default:
		}
	}
}

func (w *writer) commit(batch []*job) {
	if w.commitFast(batch) {
		return
	}
	for len(batch) > 0 {
		batch = w.commitOnce(batch)
	}
}

// commitFast runs the batch without a savepoint per write, which saves two
// statements (and two trips through cgo) per write. It is the common case:
// when any write fails, the whole transaction is rolled back and false
// returned, and the batch runs again with each write isolated.
func (w *writer) commitFast(batch []*job) bool {
	tx, err := w.conn.BeginTxx(context.Background(), nil)
	if err != nil {
		return false
	}
	t := &Tx{Tx: tx, mids: w.mids}
	for _, j := range batch {
		// A write that made SQLite abort the transaction and swallowed the
		// error must not let the next ones run outside of it.
		if err := runGuarded(t, j.fn); err != nil || w.outsideTx() {
			tx.Rollback()
			w.reset() // the writes before it are undone, and so is what they mirrored
			return false
		}
	}
	if err := t.Flush(); err != nil || w.outsideTx() {
		tx.Rollback()
		w.reset()
		return false
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		w.reset()
		return false
	}
	w.metrics.batchSize.Observe(float64(len(batch)))
	for _, j := range batch {
		j.err = nil
	}
	w.committed <- append([]*job(nil), batch...)
	return true
}

// outsideTx reports whether the write connection is no longer inside a
// transaction (SQLite rolled it back). The check is one short C call.
func (w *writer) outsideTx() bool {
	auto := true
	w.conn.Raw(func(dc any) error {
		if c, ok := dc.(*sqlite3.SQLiteConn); ok {
			auto = c.AutoCommit()
		}
		return nil
	})
	return auto
}

// runGuarded runs fn, turning a panic into an error.
func runGuarded(t *Tx, fn func(*Tx) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v", p)
		}
	}()
	return fn(t)
}

// commitOnce runs batch in one transaction and commits it. It returns the
// jobs to run again when one of them made SQLite abort the whole
// transaction (an I/O error, a full disk, an interrupted statement or an
// OR ROLLBACK conflict roll back more than a savepoint): that job fails, the
// ones before it lost their changes, and the ones after it must not run
// outside a transaction, so all but the culprit go again in a new one.
func (w *writer) commitOnce(batch []*job) (again []*job) {
	w.metrics.batchSize.Observe(float64(len(batch)))
	errs := make([]error, len(batch))
	tx, err := w.conn.BeginTxx(context.Background(), nil)
	if err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("store: begin: %w", err)
		}
		return nil
	}
	t := &Tx{Tx: tx, mids: w.mids}
	sp := w.savepoints.in(tx)
	for i, j := range batch {
		var aborted bool
		aborted, errs[i] = runIsolated(t, sp, j.fn)
		if aborted {
			tx.Rollback() // ends database/sql's transaction; SQLite's is gone already
			w.reset()
			j.done <- errs[i]
			return append(batch[:i:i], batch[i+1:]...)
		}
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		w.reset()
		for _, j := range batch {
			j.done <- fmt.Errorf("store: commit: %w", err)
		}
		return nil
	}
	for i, j := range batch {
		j.err = errs[i]
	}
	w.committed <- append([]*job(nil), batch...)
	return nil
}

// runIsolated runs fn under a savepoint so that its failure undoes only its
// own changes, never those of the other writes in the batch. aborted reports
// that the savepoint is gone because SQLite rolled back the whole
// transaction while fn ran.
func runIsolated(t *Tx, sp savepoints, fn func(*Tx) error) (aborted bool, err error) {
	if _, err := sp.save.Exec(); err != nil {
		return false, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v", p)
		}
		if err == nil {
			err = t.Flush() // inside the savepoint: its failure is this write's
		}
		if err != nil {
			t.queued = nil
			sp.rollback.Exec()
		}
		if _, rerr := sp.release.Exec(); rerr != nil {
			aborted = true
			if err == nil {
				err = fmt.Errorf("store: the write's transaction was aborted: %w", rerr)
			}
		}
	}()
	return false, fn(t)
}
