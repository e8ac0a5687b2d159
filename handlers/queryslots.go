package handlers

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultQueryTimeout is how long a conversation query may run (Config's
// QueryTimeout): SQLite is interrupted then, and the query answers
// INVALID_QUERY.
const DefaultQueryTimeout = 2 * time.Second

// maxSlotWait is the longest a conversation query waits for a slot (see
// querySlots) before it answers RATE_LIMITED.
const maxSlotWait = time.Second

// errQueryTimeout is the cause of a query's context when its deadline
// passed.
var errQueryTimeout = errors.New("the conversation query ran out of time")

// querySlots keeps conversation queries from taking the read pool away from
// the rest: queries run at most slots at a time (half the read pool, so
// that history reads and every other read always find a connection), and a
// client's at most one at a time (so that a client sending many slow
// queries holds one slot, not all). The master key, the app's backend
// acting for many users, has no slot of its own: only the shared ones
// bound it. A query waits for its slots at most maxSlotWait (and never
// longer than a query may run), then answers RATE_LIMITED.
type querySlots struct {
	all  chan struct{}
	wait time.Duration
	// retryAfter is what RATE_LIMITED advises: the longest a slot stays
	// taken, as long as a query may run.
	retryAfter time.Duration

	mu      sync.Mutex
	clients map[string]*clientSlot
}

// clientSlot is a client's slot, shared by its queries running or waiting
// (users), forgotten when it has none.
type clientSlot struct {
	busy  chan struct{}
	users int
}

func newQuerySlots(readers int, timeout time.Duration) *querySlots {
	return &querySlots{
		all:        make(chan struct{}, max(1, readers/2)),
		wait:       min(timeout, maxSlotWait),
		retryAfter: timeout,
		clients:    map[string]*clientSlot{},
	}
}

// acquire takes a slot for p's query, its own first, then a shared one;
// release gives them back.
func (q *querySlots) acquire(ctx context.Context, p Principal) (release func(), err error) {
	timer := time.NewTimer(q.wait)
	defer timer.Stop()
	take := func(slot chan struct{}) error {
		select {
		case slot <- struct{}{}:
			return nil
		default:
		}
		select {
		case slot <- struct{}{}:
			return nil
		case <-timer.C:
			return &Error{Code: CodeRateLimited, RetryAfter: q.retryAfter,
				Detail: "too many conversation queries at once (a client's run one at a time); retry later"}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var own *clientSlot
	if !p.Master {
		q.mu.Lock()
		own = q.clients[p.ClientID]
		if own == nil {
			own = &clientSlot{busy: make(chan struct{}, 1)}
			q.clients[p.ClientID] = own
		}
		own.users++
		q.mu.Unlock()
		if err := take(own.busy); err != nil {
			q.leave(p.ClientID, own)
			return nil, err
		}
	}
	if err := take(q.all); err != nil {
		if own != nil {
			<-own.busy
			q.leave(p.ClientID, own)
		}
		return nil, err
	}
	return func() {
		<-q.all
		if own != nil {
			<-own.busy
			q.leave(p.ClientID, own)
		}
	}, nil
}

// leave ends a query's use of its client's slot.
func (q *querySlots) leave(clientID string, own *clientSlot) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if own.users--; own.users == 0 {
		delete(q.clients, clientID)
	}
}

// queryFailed is what a failed query answers: INVALID_QUERY when its
// deadline (ctx, from the query's start) passed, else err.
func (s *Service) queryFailed(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errQueryTimeout) {
		return fail(CodeInvalidQuery, "the query ran longer than %s; narrow it (fewer $regex and $or conditions, a condition on members)", s.queryTimeout)
	}
	return err
}
