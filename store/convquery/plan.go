package convquery

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/store"
)

// ConversationQuery selects conversations with a compiled filter.
type ConversationQuery struct {
	Where     Where
	Order     string
	OrderArgs []any
	Limit     int
	Skip      int
}

// QueryConversations runs a conversation query. Temporary conversations are
// never listed.
//
// A filter with attribute lookups (see Where) can be answered three ways:
//   - lookup: visit the lookups' candidates, then sort them. Reading each
//     candidate's row costs the most, however few the page needs: fast for
//     a rare value.
//   - probe: walk conversations_by_last_message in sort order, testing each
//     entry's id against the lookups' candidates (an index row and a Bloom
//     filter, no conversation row) until the page is full: fast for a value
//     that is not rare, and never slow.
//   - walk: walk the conversations in sort order testing each row by itself
//     (JSON functions), no lookup at all: fast for a common value; it goes
//     first and gives up after a bounded number of rows.
//
// planQuery counts the lookups' candidates (up to a twentieth of the table)
// to choose. A page from the walk is the answer only when it is full: the
// matches among the first rows in order are then the first matches.
func QueryConversations(ctx context.Context, r store.Reader, q ConversationQuery) ([]store.Conversation, error) {
	p, err := planQuery(ctx, r, q)
	if err != nil {
		return nil, err
	}
	return runPlan(ctx, r, q, p)
}

// runPlan answers q as p says. Every plan has the same answer.
func runPlan(ctx context.Context, r store.Reader, q ConversationQuery, p queryPlan) ([]store.Conversation, error) {
	out := make([]store.Conversation, 0, min(q.Limit, 1000))
	if p.walk > 0 {
		sql, args := walkSQL(q, p.walk)
		walked, err := selectConversations(ctx, r, out, sql, args...)
		if err != nil || len(walked) == q.Limit {
			return walked, err
		}
	}
	sql, args := planSQL(q, p)
	return selectConversations(ctx, r, out[:0], sql, args...)
}

// conversationColumns are the columns of conversations c in the order of
// selectConversations.
const conversationColumns = "c.id, c.kind, c.name, c.creator, c.attributes, c.is_unique, c.created_at, c.updated_at, " +
	"c.last_message_at, c.last_seq, c.last_mid, c.member_count, c.ttl, c.expires_at"

// selectConversations appends to out the rows of a query of
// conversationColumns, scanned field by field (sqlx's reflective scanning
// was about a tenth of a query's time).
func selectConversations(ctx context.Context, r store.Reader, out []store.Conversation, query string, args ...any) ([]store.Conversation, error) {
	rows, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		out = append(out, store.Conversation{})
		c := &out[len(out)-1]
		if err := rows.Scan(&c.ID, &c.Kind, &c.Name, &c.Creator, &c.Attributes, &c.Unique, &c.CreatedAt, &c.UpdatedAt,
			&c.LastMessageAt, &c.LastSeq, &c.LastMID, &c.MemberCount, &c.TTL, &c.ExpiresAt); err != nil {
			return out[:len(out)-1], err
		}
	}
	return out, rows.Err()
}

// walkSQL is the query that tests the first rows conversations in sort
// order with q's row tests.
func walkSQL(q ConversationQuery, rows int) (string, []any) {
	args := append(append([]any{}, q.OrderArgs...), rows)
	args = append(append(append(args, q.Where.scanArgs...), q.OrderArgs...), q.Limit, q.Skip)
	return "SELECT " + conversationColumns + " FROM (SELECT * FROM conversations c WHERE c.kind <> 'temporary' ORDER BY " + q.Order +
		" LIMIT ?) AS c WHERE (" + q.Where.scanSQL + ") ORDER BY " + q.Order + " LIMIT ? OFFSET ?", args
}

// planSQL is the query that answers q with p's filter, as a probe or a
// lookup.
func planSQL(q ConversationQuery, p queryPlan) (string, []any) {
	args := append(append(append([]any{}, p.filter.args...), q.OrderArgs...), q.Limit, q.Skip)
	if p.probe {
		// One test of each entry of the index, which reads the row (kind,
		// row tests) only for an id among the candidates: the filter's
		// lookup comes first (driveFrom), and SQLite evaluates a CASE in
		// order. (As separate terms, SQLite would test a lookup holding a
		// correlated subquery, a regex's, after c.kind, reading every row.)
		return "SELECT " + conversationColumns + " FROM conversations c INDEXED BY conversations_by_last_message WHERE CASE WHEN " +
			p.filter.sql + " THEN c.kind <> 'temporary' ELSE 0 END ORDER BY " + q.Order + " LIMIT ? OFFSET ?", args
	}
	return "SELECT " + conversationColumns + " FROM conversations c WHERE c.kind <> 'temporary' AND (" + p.filter.sql +
		") ORDER BY " + q.Order + " LIMIT ? OFFSET ?", args
}

// queryPlan is how QueryConversations answers: walk is how many
// conversations, first in sort order, to test with the row tests first (0:
// none); then filter, by lookup or, with probe, by probe.
type queryPlan struct {
	walk   int
	probe  bool
	filter frag
}

// Costs and bounds of planQuery, in microseconds on a small server:
// reading a conversation's row by id and testing it (a lookup's candidate, a
// row the walk tests), reading an index row (to count, to intersect, to
// collect a lookup's candidates) and testing an entry of the sort index
// against the candidates. Sizes are counted up to a twentieth of the
// conversations, at least countMin. A walk tests at least walkMin
// conversations and at most walkMax.
var (
	costRow   = 3.0
	costEntry = 0.3
	costProbe = 0.05
	countMin  = 10000
	walkMin   = 500
	walkMax   = 3000
)

// planQuery chooses how to answer q (see QueryConversations).
func planQuery(ctx context.Context, r store.Reader, q ConversationQuery) (queryPlan, error) {
	w := q.Where
	p := queryPlan{filter: frag{sql: w.SQL, args: w.Args}}
	need := q.Limit + q.Skip
	walkable := w.scanSQL != "" && q.Limit > 0 && orderHasIndex(q.Order)
	if w.parts == nil {
		if walkable && need*20 <= walkMax {
			// No sizes to go by: 20 rows for each the page needs.
			p.walk = max(need*20, walkMin)
		}
		return p, nil
	}
	plans, key := plansOf(r, q)
	if plans != nil {
		if c, ok := plans.get(key, w.parts); ok {
			p.filter, p.walk, p.probe = driveFrom(w.parts, c.driver), c.walk, c.probe
			return p, nil
		}
	}
	// Sizes, in rows of the index: first of the lookup likely to be the
	// smallest (by rank), counted up to a twentieth of the conversations
	// (at least countMin), with the number of conversations (the last
	// rowid: more when some were deleted, temporary ones); then of the
	// others, only as far as could matter beside it.
	var sets []int
	for i, part := range w.parts {
		if part.set != nil {
			sets = append(sets, i)
		}
	}
	slices.SortStableFunc(sets, func(a, b int) int { return cmp.Compare(w.parts[a].rank, w.parts[b].rank) })
	sizes := make([]lookupSize, len(sets))
	for i, part := range sets {
		sizes[i] = lookupSize{values: w.parts[part].values}
	}
	var n int64
	first := w.parts[sets[0]].bound
	err := r.QueryRowxContext(ctx, "SELECT (SELECT coalesce(max(rowid), 0) FROM conversations), (SELECT count(*) FROM ("+
		first.sql+" LIMIT (SELECT max(?, coalesce(max(rowid), 0) / 20) FROM conversations)))",
		append(slices.Clip(first.args), countMin)...).Scan(&n, &sizes[0].rows)
	if err != nil {
		return p, err
	}
	sizes[0].capped = max(int64(countMin), n/20)
	if len(sets) > 1 {
		limit := min(sizes[0].capped, max(16*sizes[0].rows, 256))
		var counts []string
		var args []any
		dest := make([]any, len(sets)-1)
		for i, part := range sets[1:] {
			bound := w.parts[part].bound
			counts = append(counts, "(SELECT count(*) FROM ("+bound.sql+" LIMIT ?))")
			args = append(append(args, bound.args...), limit)
			sizes[i+1].capped, dest[i] = limit, &sizes[i+1].rows
		}
		if err := r.QueryRowxContext(ctx, "SELECT "+strings.Join(counts, ", "), args...).Scan(dest...); err != nil {
			return p, err
		}
	}
	c := choosePlan(sizes, n, need, walkable, strings.HasPrefix(q.Order, "c.last_message_at "))
	for i := range c.driver {
		c.driver[i] = sets[c.driver[i]]
	}
	if plans != nil {
		plans.put(key, c)
	}
	p.filter, p.walk, p.probe = driveFrom(w.parts, c.driver), c.walk, c.probe
	return p, nil
}

// planCache keeps the choices planQuery made on a read pool for planTTL:
// the same query again (a listing many clients load, a page reloaded) skips
// the counting, a third of a millisecond to a millisecond. Sizes drift as
// conversations are written, and every plan has the same answer: a stale
// choice can only be slower. Entries are small (a digest of the query, the
// choice), and the map is emptied when full, so that queries clients make
// up cannot grow it without bound. Each database has its own (plansOf).

const (
	planTTL      = 5 * time.Second
	planCacheMax = 1024
)

type planCache struct {
	sync.Mutex
	m map[planKey]planEntry
}

// planKey is a digest of what planQuery's choice depends on (see keyOf).
type planKey [sha256.Size]byte

type planEntry struct {
	c  choice
	at time.Time
}

// get returns the choice kept for key, if it is recent and fits parts.
func (pc *planCache) get(key planKey, parts []cond) (choice, bool) {
	pc.Lock()
	e, ok := pc.m[key]
	pc.Unlock()
	if !ok || time.Since(e.at) > planTTL {
		return choice{}, false
	}
	for _, d := range e.c.driver {
		if d >= len(parts) || parts[d].set == nil {
			return choice{}, false
		}
	}
	return e.c, true
}

func (pc *planCache) put(key planKey, c choice) {
	pc.Lock()
	defer pc.Unlock()
	if len(pc.m) >= planCacheMax {
		clear(pc.m)
	}
	pc.m[key] = planEntry{c: c, at: time.Now()}
}

func (pc *planCache) clear() {
	pc.Lock()
	defer pc.Unlock()
	clear(pc.m)
}

// plansOf is where planQuery keeps its choice for q on r, and under which
// key: the plans of r's database when r is a read pool (nil for other
// Readers: a transaction may see other sizes).
//
// The cache is kept per database, as it was when it was a field of store's
// read pool: store cannot import this package (which imports store), so the
// read pool holds it in an opaque slot, store.PoolState, under a key of this
// package's own type; store never sees planCache.
func plansOf(r store.Reader, q ConversationQuery) (*planCache, planKey) {
	v, ok := store.PoolState(r, plansSlot{}, newPlanCache)
	if !ok {
		return nil, planKey{}
	}
	return v.(*planCache), keyOf(q)
}

// plansSlot is the key of a database's planCache in store.PoolState.
type plansSlot struct{}

func newPlanCache() any { return &planCache{m: map[planKey]planEntry{}} }

// keyOf is the planKey of q: the filter, the order and the rows the page
// needs.
func keyOf(q ConversationQuery) (key planKey) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d %t", q.Where.SQL, q.Where.scanSQL, q.Order, q.Limit+q.Skip, q.Limit > 0)
	for _, args := range [][]any{q.Where.Args, q.Where.scanArgs} {
		h.Write([]byte{0})
		for _, a := range args {
			fmt.Fprintf(h, "%T %#v,", a, a)
		}
	}
	h.Sum(key[:0])
	return key
}

// lookupSize is what planQuery knows of a set lookup: rows of the index,
// counted up to capped (then there may be more), and how many values they
// hold one each of, all of which a conversation must have (0 for one).
type lookupSize struct {
	rows, capped int64
	values       int
}

// choice is the outcome of choosePlan: the lookups to intersect (indexes
// into its sizes), whether to probe rather than visit the candidates, and
// how many rows to walk first.
type choice struct {
	driver []int
	probe  bool
	walk   int
}

// choosePlan chooses a plan from the sizes of the set lookups of a filter
// over n conversations, for a page of need rows; walkable: the row tests
// can walk the sort order; probeable: the sort order is
// conversations_by_last_message's. It estimates shares of the table as if
// conditions were independent.
func choosePlan(sizes []lookupSize, n int64, need int, walkable, probeable bool) choice {
	var c choice
	total := float64(max(n, 1))
	capped := func(i int) bool { return sizes[i].rows >= sizes[i].capped }
	// rows estimates a lookup's index rows; a capped count says there are
	// at least so many: take twice as many.
	rows := func(i int) float64 {
		if capped(i) {
			return max(min(2*float64(sizes[i].rows), total), float64(sizes[i].rows))
		}
		return float64(sizes[i].rows)
	}
	// share: of the conversations, those a lookup selects ($all's as if its
	// values were independent).
	share := func(i int) float64 {
		if k := sizes[i].values; k > 1 {
			return math.Pow(min(rows(i)/float64(k)/total, 1), float64(k))
		}
		return min(rows(i)/total, 1)
	}
	// read: the cost of collecting a lookup's candidates.
	read := func(i int) float64 { return costEntry * rows(i) }
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(share(a), share(b)) })
	// Intersect a lookup while reading it costs less than reading the rows
	// of the candidates it rules out; leave a capped one to the row tests.
	candidates, matches, reads := total, total, 0.0
	for _, i := range order {
		matches *= share(i)
		if len(c.driver) == 0 || !capped(i) && read(i) < costRow*candidates*(1-share(i)) {
			c.driver = append(c.driver, i)
			candidates *= share(i)
			reads += read(i)
		}
	}
	// The ordered plans read entries, or rows, until the page is full: need
	// for each match.
	ordered := min(float64(need)*total/max(matches, 1e-9), total)
	cost := reads + costRow*candidates
	if probe := reads + costProbe*ordered + costRow*ordered*candidates/total; probeable && probe < cost {
		c.probe, cost = true, probe
	}
	if walkable && ordered <= float64(walkMax) && costRow*ordered < cost {
		// Twice the estimate, in case it is short.
		c.walk = int(min(max(2*ordered, float64(walkMin)), float64(walkMax)))
	}
	return c
}

// orderHasIndex reports whether an ORDER BY of CompileSort walks an index:
// lastMessageAt (conversations_by_last_message, either direction) or id.
func orderHasIndex(order string) bool {
	return strings.HasPrefix(order, "c.last_message_at ") || strings.HasPrefix(order, "c.id ")
}
