package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// ErrClosed is returned by Write once the database is shutting down.
var ErrClosed = errors.New("store: closed")

// Tx is one queued write's view of the shared group-commit transaction. Its
// changes are isolated by a savepoint: a failing write rolls back alone.
type Tx struct {
	*sqlx.Tx
}

type job struct {
	fn    func(*Tx) error
	after func()
	done  chan error
}

// writer is the only goroutine that writes to the database. Writes queue up
// while a transaction commits and are then committed together, so the cost
// of a commit (an fsync) is shared by every write in the batch.
type writer struct {
	db       *sqlx.DB
	maxBatch int
	jobs     chan *job
	closing  chan struct{}
	stopped  chan struct{}
	once     sync.Once
}

func newWriter(db *sqlx.DB, maxBatch int) *writer {
	w := &writer{
		db:       db,
		maxBatch: maxBatch,
		jobs:     make(chan *job, maxBatch),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go w.run()
	return w
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan error, 1)} }}

// Write runs fn inside the writer's next transaction and returns once that
// transaction has committed (or fn failed). after, if not nil, runs on the
// writer goroutine right after the commit, in commit order: it is where
// committed changes are announced, so that every observer sees them in the
// order they were made. after must not block.
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
	j.fn, j.after = nil, nil
	jobPool.Put(j)
	return err
}

func (w *writer) close() {
	w.once.Do(func() { close(w.closing) })
	<-w.stopped
}

func (w *writer) run() {
	defer close(w.stopped)
	batch := make([]*job, 0, w.maxBatch)
	for {
		var first *job
		select {
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
	}
}

func (w *writer) commit(batch []*job) {
	batchSize.Observe(float64(len(batch)))
	errs := make([]error, len(batch))
	tx, err := w.db.Beginx()
	if err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	t := &Tx{tx}
	for i, j := range batch {
		errs[i] = runIsolated(t, j.fn)
	}
	if err := tx.Commit(); err != nil {
		tx.Rollback()
		for _, j := range batch {
			j.done <- fmt.Errorf("store: commit: %w", err)
		}
		return
	}
	for i, j := range batch {
		if errs[i] == nil && j.after != nil {
			j.after()
		}
		j.done <- errs[i]
	}
}

// runIsolated runs fn under a savepoint so that its failure undoes only its
// own changes, never those of the other writes in the batch.
func runIsolated(t *Tx, fn func(*Tx) error) (err error) {
	if _, err := t.Exec("SAVEPOINT w"); err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write panicked: %v", p)
		}
		if err != nil {
			t.Exec("ROLLBACK TO w")
		}
		t.Exec("RELEASE w")
	}()
	return fn(t)
}
