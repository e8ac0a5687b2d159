package convquery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// QueryError is a malformed conversation query; Detail names the offending
// part.
type QueryError struct{ Detail string }

func (e *QueryError) Error() string { return "invalid query: " + e.Detail }

func qerr(format string, args ...any) *QueryError {
	return &QueryError{Detail: fmt.Sprintf(format, args...)}
}

// Limits that keep any query cheap to compile and to run, and its SQL
// within SQLite's own limits, so that no query is an SQLite error.
const (
	MaxWhereBytes   = 16 << 10
	maxWhereDepth   = 8
	maxWhereNodes   = 256
	maxListValues   = 1000
	MaxRegexLen     = 256
	maxAttrPathKeys = 8
	// MaxWhereRegexes is how many $regex conditions a where may hold. A
	// regex has no index beyond a literal prefix: each may read a whole
	// table or index and run the pattern on every row of it (a member
	// regex, every member row), so a query's cost grows with them. Eight
	// are a search box over a name, a few attributes and the members,
	// twice over; 120 were eight seconds of a read connection.
	MaxWhereRegexes = 8
	// MaxLogicalItems is how many conditions one $or or $and may list (a
	// UNION of their lookups stays far below SQLite's 500 compound terms);
	// many values of one field are an $in.
	MaxLogicalItems = 32
	// MaxWhereLookups is how many conditions of a where may be index
	// lookups (members, attributes): planning counts each of them, and each
	// is a subquery of the statement.
	MaxWhereLookups = 32
	// maxWhereSelects bounds the SELECTs of any statement a where makes.
	// SQLite refuses a statement whose cursors reach 1000 before a WITH is
	// expanded ("VIEWs and/or subqueries nested too deep": a $regex lookup
	// is a WITH), and a SELECT of a filter opens fewer than two cursors:
	// TestWhereLimitsKeepSQLiteWithinItsOwn holds the worst shapes.
	maxWhereSelects = 300
	// SQLite takes at most 32766 parameters in a statement; the rest is
	// left to the statement around the filter (sort, limit, skip).
	maxWhereArgs = 30000
)

// Where is a compiled filter over the conversations table aliased c.
//
// SQL is the filter as a plan that starts from index lookups: conditions on
// custom attributes become c.id IN (SELECT conversation_id FROM
// conversation_attributes ...) (see migration 0006), those selecting by
// value intersected, and the others test each candidate row. When SQL holds
// such a lookup, scanSQL is the same filter testing every row by itself
// (SQLite's JSON functions), and parts its top-level conjuncts:
// QueryConversations picks among their lookups by their sizes, and may walk
// the conversations in sort order with scanSQL instead.
type Where struct {
	SQL  string
	Args []any

	scanSQL  string
	scanArgs []any
	parts    []cond
}

// CompileWhere turns a LeanCloud/Parse-style query (MongoDB semantics) into
// parameterised SQL: values only ever travel as arguments, never spliced.
// It is the master key's view: every conversation shows its members (a
// system conversation, its subscribers).
func CompileWhere(raw []byte) (Where, error) { return CompileWhereFor(raw, "") }

// CompileWhereFor is CompileWhere as the client viewer sees conversations
// ("" is the master key's view, CompileWhere). A viewer sees the member
// list of the normal and temporary conversations it is a member of, and no
// member list anywhere else (as a chat room has none; a system
// conversation's subscribers are never shown): every condition on members
// is evaluated against that, so that members answer no question about
// conversations the viewer is not in. A positive condition ({"m":"Ann"},
// $in, $all, $regex, $exists: true) matches only conversations the viewer
// is in; $ne, $nin and $exists: false match the others, as MongoDB matches
// a missing field. Muted members (mutedMembers, mu) are members: the
// viewer sees them exactly where it sees the member list.
func CompileWhereFor(raw []byte, viewer string) (Where, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Where{SQL: "1"}, nil
	}
	if len(raw) > MaxWhereBytes {
		return Where{}, qerr("where is longer than %d bytes", MaxWhereBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Where{}, qerr("where is not valid JSON: %v", err)
	}
	if dec.More() {
		return Where{}, qerr("where has trailing data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Where{}, qerr("where must be a JSON object")
	}
	c := &compiler{viewer: viewer}
	parts, err := c.conjuncts(obj, 1, "where")
	if err != nil {
		return Where{}, err
	}
	cd := allOf(parts)
	w := Where{SQL: cd.scan.sql, Args: cd.scan.args}
	if cd.lookup != nil && cd.attr {
		// (Not when the id drives: allOf prefers it to any other lookup.)
		w = Where{SQL: cd.lookup.sql, Args: cd.lookup.args, scanSQL: cd.scan.sql, scanArgs: cd.scan.args}
		for _, p := range parts {
			if p.set != nil && p.attr {
				w.parts = parts // sizes can choose among the lookups
				break
			}
		}
	}
	if len(w.Args) > maxWhereArgs || len(w.scanArgs) > maxWhereArgs {
		return Where{}, qerr("where needs more than %d SQL parameters: use fewer values", maxWhereArgs)
	}
	if err := w.checkSize(); err != nil {
		return Where{}, err
	}
	return w, nil
}

// checkSize refuses a filter whose statements would be too large for
// SQLite (see maxWhereSelects and maxWhereArgs): the filter, its row tests,
// and those planQuery may make of its parts, driving from any of their
// lookups (each part as its set or as its row test) and counting all of
// them at once.
func (w Where) checkSize() error {
	selects := func(f ...frag) (n int, args int) {
		for _, x := range f {
			n += strings.Count(x.sql, "SELECT ")
			args += len(x.args)
		}
		return n, args
	}
	lookup, _ := selects(frag{sql: w.SQL})
	scan, _ := selects(frag{sql: w.scanSQL})
	n := max(lookup, scan)
	var drive, count, driveArgs, countArgs int
	for _, p := range w.parts {
		scan, scanArgs := selects(p.scan)
		if p.set == nil {
			drive, driveArgs = drive+scan, driveArgs+scanArgs
			continue
		}
		set, setArgs := selects(*p.set)
		bound, boundArgs := selects(*p.bound)
		drive, driveArgs = drive+max(scan, set), driveArgs+max(scanArgs, setArgs)
		count, countArgs = count+bound, countArgs+boundArgs+1
	}
	if max(n, drive, count) > maxWhereSelects {
		return qerr("where is too complex (its SQL would hold more than %d subqueries): use fewer conditions, or $in for many values", maxWhereSelects)
	}
	if max(driveArgs, countArgs) > maxWhereArgs {
		return qerr("where needs more than %d SQL parameters: use fewer values", maxWhereArgs)
	}
	return nil
}

type compiler struct {
	args  []any
	nodes int
	// regexes and lookups count the $regex conditions and the index
	// lookups compiled so far (MaxWhereRegexes, MaxWhereLookups).
	regexes, lookups int
	// viewer is the client whose view of member lists conditions on
	// members see; "" for the master key's (see CompileWhereFor).
	viewer string
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	return "?"
}

// frag is SQL text with the arguments of its placeholders, in order.
type frag struct {
	sql  string
	args []any
}

// capture runs a function that writes SQL with c.arg and returns the SQL
// with the arguments it appended, leaving c.args as it was.
func (c *compiler) capture(f func() (string, error)) (frag, error) {
	saved := c.args
	c.args = nil
	sql, err := f()
	out := frag{sql: sql, args: c.args}
	c.args = saved
	return out, err
}

// cond is a compiled condition in its forms. scan tests a row by itself.
// lookup, when set, is the same condition driven by an index (for the
// member set and the id, the scan form again: they are lookups already);
// when it is c.id IN (set), set is that SELECT of conversation ids, which
// can be intersected with others, and bound a SELECT of at least as many
// rows, cheap to count. rank says how few candidates a lookup is likely to
// have (lower: fewer), when sizes are not known; attr, that the lookup reads
// conversation_attributes.
type cond struct {
	scan   frag
	lookup *frag
	set    *frag
	bound  *frag
	rank   int
	attr   bool
	// values is how many values bound's rows hold one each of, all of which
	// a conversation in set has (the values of $all); 0 for one.
	values int
	// rng: the condition is one order comparison on an attribute, which
	// mergeRanges may make one range of the index with another.
	rng *attrRange
}

// attrRange is an order comparison ($gt, $gte, $lt, $lte) of an attribute
// with a number or a string.
type attrRange struct {
	key string
	op  string
	val any
}

func (r *attrRange) lower() bool { return r.op == "$gt" || r.op == "$gte" }

func (r *attrRange) text() bool {
	_, ok := r.val.(string)
	return ok
}

// types tests that the row (of conversation_attributes, with alias, such
// as "x.") has the type r compares with.
func (r *attrRange) types(alias string) string {
	if r.text() {
		return alias + "type = 'text'"
	}
	return alias + "type IN ('integer', 'real')"
}

// pairs reports whether r and o bound the same attribute from either side,
// within the same type.
func (r *attrRange) pairs(o *attrRange) bool {
	return r.key == o.key && r.lower() != o.lower() && r.text() == o.text()
}

const (
	rankID     = iota // c.id = ? or IN a list
	rankMember        // one client's conversations, or a few clients'
	rankEqual         // an attribute equal to one value, or to all of several
	rankIn            // an attribute equal to any of several values
	rankRange         // an order comparison, a regex with a literal prefix
	rankExists        // any value of the attribute, any string matching a regex
	rankOr            // an $or of lookups: the worst of them, one more
)

func scanOnly(f frag) cond { return cond{scan: f} }

// selfLookup is a condition whose scan form is an indexed lookup already.
func selfLookup(f frag, rank int) cond { return cond{scan: f, lookup: &f, rank: rank} }

// setLookup is a condition that holds for the conversations set selects.
func setLookup(scan, set, bound frag, rank int, attr bool) cond {
	l := frag{sql: "c.id IN (" + set.sql + ")", args: set.args}
	return cond{scan: scan, lookup: &l, set: &set, bound: &bound, rank: rank, attr: attr}
}

// joinFrags is join over fragments: the SQL keeps the order of parts, and so
// do the arguments.
func joinFrags(parts []frag, sep, empty string) frag {
	sqls := make([]string, len(parts))
	var args []any
	for i, p := range parts {
		sqls[i] = p.sql
		args = append(args, p.args...)
	}
	return frag{sql: join(sqls, sep, empty), args: args}
}

func paren(f frag) frag { return frag{sql: "(" + f.sql + ")", args: f.args} }

// intersect selects the conversation ids every one of sets selects.
func intersect(sets []frag) frag {
	if len(sets) == 1 {
		return sets[0]
	}
	out := frag{}
	for i, s := range sets {
		if i > 0 {
			out.sql += " INTERSECT "
		}
		out.sql += "SELECT conversation_id FROM (" + s.sql + ")"
		out.args = append(out.args, s.args...)
	}
	return out
}

// driveFrom is the AND of parts with the lookups of those in driver (by
// index, in the order to intersect them) as one intersection, first (a
// probe, see planSQL, tests it before the others), and the others as row
// tests.
func driveFrom(parts []cond, driver []int) frag {
	sets := make([]frag, len(driver))
	for i, d := range driver {
		sets[i] = *parts[d].set
	}
	all := intersect(sets)
	out := []frag{{sql: "c.id IN (" + all.sql + ")", args: all.args}}
	for i, p := range parts {
		if !slices.Contains(driver, i) {
			out = append(out, p.scan)
		}
	}
	return joinFrags(out, " AND ", "1")
}

// allOf is the AND of conditions. Its lookup form, without sizes to go by,
// intersects the lookups that select by value (members, equalities, $in),
// or else drives from the lowest-ranked lookup (the first of equals); the
// other conditions test the candidates.
func allOf(conds []cond) cond {
	if len(conds) == 1 {
		return conds[0]
	}
	scans := make([]frag, len(conds))
	var sets []int
	best := -1
	for i, cd := range conds {
		scans[i] = cd.scan
		if cd.set != nil && cd.rank <= rankIn {
			sets = append(sets, i)
		}
		if cd.lookup != nil && (best < 0 || cd.rank < conds[best].rank) {
			best = i
		}
	}
	out := cond{scan: joinFrags(scans, " AND ", "1")}
	switch {
	case best >= 0 && conds[best].rank == rankID || best >= 0 && len(sets) == 0:
		parts := slices.Clone(scans)
		parts[best] = *conds[best].lookup
		l := joinFrags(parts, " AND ", "1")
		out.lookup, out.rank, out.attr = &l, conds[best].rank, conds[best].attr
	case len(sets) > 0:
		l := driveFrom(conds, sets)
		out.lookup, out.rank = &l, rankOr
		for _, i := range sets {
			out.rank = min(out.rank, conds[i].rank)
			out.attr = out.attr || conds[i].attr
		}
	}
	return out
}

// anyOf is the OR of conditions: a lookup when each of them has one.
func anyOf(conds []cond) cond {
	if len(conds) == 1 {
		return conds[0]
	}
	scans := make([]frag, len(conds))
	lookups := make([]frag, len(conds))
	out := cond{rank: rankOr}
	all := true
	for i, cd := range conds {
		scans[i] = cd.scan
		if cd.lookup == nil {
			all = false
			continue
		}
		lookups[i] = *cd.lookup
		out.rank = max(out.rank, cd.rank+1)
		out.attr = out.attr || cd.attr
	}
	out.scan = joinFrags(scans, " OR ", "0")
	if !all {
		out.attr = false
		return out
	}
	l := joinFrags(lookups, " OR ", "0")
	out.lookup = &l
	// When each of them selects a set of conversations, the union of the
	// sets: one lookup, which the planner can count and probe like $in.
	sets := make([]frag, len(conds))
	bounds := make([]frag, len(conds))
	for i, cd := range conds {
		if cd.set == nil {
			return out
		}
		sets[i], bounds[i] = idsOf(*cd.set), idsOf(*cd.bound)
	}
	return setLookup(out.scan, unionAll(sets), unionAll(bounds), out.rank, out.attr)
}

// idsOf is the conversation ids a set or a bound selects, as one SELECT that
// a compound can hold.
func idsOf(f frag) frag {
	return frag{sql: "SELECT conversation_id FROM (" + f.sql + ")", args: f.args}
}

// unionAll is the compound of SELECTs, repeated rows and all (flat: SQLite
// takes no parentheses around the terms of a compound).
func unionAll(sels []frag) frag {
	out := frag{}
	for i, s := range sels {
		if i > 0 {
			out.sql += " UNION ALL "
		}
		out.sql += s.sql
		out.args = append(out.args, s.args...)
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// object compiles {field: cond, $or: [...], $and: [...]}: all must hold.
func (c *compiler) object(obj map[string]any, depth int, at string) (cond, error) {
	parts, err := c.conjuncts(obj, depth, at)
	if err != nil {
		return cond{}, err
	}
	return allOf(parts), nil
}

// conjuncts compiles the conditions of an object, all of which must hold;
// those of an $and in it are conditions of the object too.
func (c *compiler) conjuncts(obj map[string]any, depth int, at string) ([]cond, error) {
	if depth > maxWhereDepth {
		return nil, qerr("%s: nested deeper than %d levels", at, maxWhereDepth)
	}
	var parts []cond
	for _, key := range sortedKeys(obj) {
		c.nodes++
		if c.nodes > maxWhereNodes {
			return nil, qerr("where has more than %d conditions", maxWhereNodes)
		}
		val := obj[key]
		switch {
		case key == "$and":
			list, err := logicalItems(val, at+"."+key)
			if err != nil {
				return nil, err
			}
			for i, item := range list {
				sub, err := c.conjuncts(item, depth+1, fmt.Sprintf("%s.$and[%d]", at, i))
				if err != nil {
					return nil, err
				}
				parts = append(parts, sub...)
			}
		case key == "$or":
			list, err := logicalItems(val, at+"."+key)
			if err != nil {
				return nil, err
			}
			var alts []cond
			for i, item := range list {
				alt, err := c.object(item, depth+1, fmt.Sprintf("%s.$or[%d]", at, i))
				if err != nil {
					return nil, err
				}
				alt.scan = paren(alt.scan)
				if alt.lookup != nil {
					l := paren(*alt.lookup)
					alt.lookup = &l
				}
				alts = append(alts, alt)
			}
			parts = append(parts, anyOf(alts))
		case strings.HasPrefix(key, "$"):
			return nil, qerr("%s: unknown operator %s at the top of a condition (use $or or $and)", at, key)
		default:
			f, err := resolveField(key)
			if err != nil {
				return nil, err
			}
			sub, err := c.condition(f, val, at+"."+key)
			if err != nil {
				return nil, err
			}
			parts = append(parts, sub...)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, scanOnly(frag{sql: "1"}))
	}
	return c.mergeRanges(parts), nil
}

// mergeRanges makes a lower bound ($gt, $gte) and an upper bound ($lt,
// $lte) of the same attribute among parts, in one operator object or in
// several (an $and), one condition whose lookup is one range of the index,
// value > ? AND value < ?, rather than two half-open ones that each select
// a large part of it.
func (c *compiler) mergeRanges(parts []cond) []cond {
	used := make([]bool, len(parts))
	out := make([]cond, 0, len(parts))
	for i, p := range parts {
		if used[i] {
			continue
		}
		for j := i + 1; p.rng != nil && j < len(parts); j++ {
			if q := parts[j]; !used[j] && q.rng != nil && p.rng.pairs(q.rng) {
				used[j] = true
				if p.rng.lower() {
					p = c.rangeCond(p, q)
				} else {
					p = c.rangeCond(q, p)
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// rangeCond is the AND of two order comparisons of an attribute, lo a lower
// bound and hi an upper one of the same type. The index rows between them
// are the scalars and the array elements within the range; an array also
// matches when one of its elements is within one bound and another within
// the other (as in MongoDB, each bound holds for some element): the arrays
// of the key are tested for that, each with its elements' rows (by
// conversation_attributes_by_conversation). bound adds all the key's arrays
// to the rows in range.
func (c *compiler) rangeCond(lo, hi cond) cond {
	key := lo.rng.key
	inRange := func() string {
		return "SELECT conversation_id FROM conversation_attributes WHERE key = " + c.arg(key) + " AND " + lo.rng.types("") +
			" AND value " + cmpOps[lo.rng.op] + " " + c.arg(lo.rng.val) + " AND value " + cmpOps[hi.rng.op] + " " + c.arg(hi.rng.val)
	}
	// (A join, not a correlated EXISTS: SQLite tests a lookup holding a
	// correlated subquery after the other terms of a WHERE; see planSQL.)
	set, _ := c.capture(func() (string, error) {
		return inRange() + " UNION ALL SELECT a.conversation_id FROM conversation_attributes a JOIN conversation_attributes x" +
			" ON x.conversation_id = a.conversation_id AND x.key = a.key AND " + lo.rng.types("x.") +
			" WHERE a.key = " + c.arg(key) + " AND a.type = 'array' GROUP BY a.conversation_id HAVING max(x.value " +
			cmpOps[lo.rng.op] + " " + c.arg(lo.rng.val) + ") AND max(x.value " + cmpOps[hi.rng.op] + " " + c.arg(hi.rng.val) + ")", nil
	})
	bound, _ := c.capture(func() (string, error) {
		return inRange() + " UNION ALL SELECT conversation_id FROM conversation_attributes WHERE key = " + c.arg(key) + " AND type = 'array'", nil
	})
	scan := joinFrags([]frag{lo.scan, hi.scan}, " AND ", "1")
	return setLookup(scan, set, bound, rankRange, true)
}

// logicalItems checks the operand of $or and $and: a non-empty array of
// objects.
func logicalItems(val any, at string) ([]map[string]any, error) {
	list, ok := val.([]any)
	if !ok || len(list) == 0 {
		return nil, qerr("%s: must be a non-empty array of conditions", at)
	}
	if len(list) > MaxLogicalItems {
		return nil, qerr("%s: more than %d conditions (for many values of one field, use $in)", at, MaxLogicalItems)
	}
	out := make([]map[string]any, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, qerr("%s[%d]: must be an object", at, i)
		}
		out[i] = obj
	}
	return out, nil
}

// join joins conditions with AND or OR (empty when there are none) as a
// balanced tree: SQLite refuses expressions nested over 1000 deep, which a
// flat chain of a thousand values would be.
func join(parts []string, sep, empty string) string {
	switch len(parts) {
	case 0:
		return empty
	case 1:
		return parts[0]
	}
	mid := len(parts) / 2
	return "(" + join(parts[:mid], sep, empty) + sep + join(parts[mid:], sep, empty) + ")"
}

// fieldKind says how a field is stored.
type fieldKind int

const (
	fieldColumn  fieldKind = iota // a scalar column
	fieldTime                     // a time column: ms, or a {"__type":"Date"} object
	fieldKindIs                   // tr / sys: a boolean view of the kind column
	fieldMembers                  // the member set
	fieldAttr                     // a custom attribute inside the attributes JSON
)

type field struct {
	name string
	kind fieldKind
	col  string // column expression; for fieldKindIs the kind it tests
	path string // JSON path of an attribute
	// key is an attribute's dotted name as conversation_attributes holds
	// it; empty when no row can hold it (a NUL in it).
	key string
	// muted: a fieldMembers field of the members who muted the
	// conversation (mutedMembers), not of all of them.
	muted bool
}

var builtinFields = map[string]field{
	"id":            {name: "id", kind: fieldColumn, col: "c.id"},
	"objectId":      {name: "id", kind: fieldColumn, col: "c.id"}, // LeanCloud's name of the id
	"mutedMembers":  {name: "mutedMembers", kind: fieldMembers, muted: true},
	"mu":            {name: "mutedMembers", kind: fieldMembers, muted: true},
	"name":          {name: "name", kind: fieldColumn, col: "c.name"},
	"kind":          {name: "kind", kind: fieldColumn, col: "c.kind"},
	"creator":       {name: "creator", kind: fieldColumn, col: "c.creator"},
	"c":             {name: "creator", kind: fieldColumn, col: "c.creator"},
	"members":       {name: "members", kind: fieldMembers},
	"m":             {name: "members", kind: fieldMembers},
	"tr":            {name: "tr", kind: fieldKindIs, col: "chatroom"},
	"sys":           {name: "sys", kind: fieldKindIs, col: "system"},
	"lastMessageAt": {name: "lastMessageAt", kind: fieldTime, col: "c.last_message_at"},
	"lm":            {name: "lastMessageAt", kind: fieldTime, col: "c.last_message_at"},
	"createdAt":     {name: "createdAt", kind: fieldTime, col: "c.created_at"},
	"updatedAt":     {name: "updatedAt", kind: fieldTime, col: "c.updated_at"},
}

// resolveField maps a query key to a field: a built-in name or alias, or a
// custom attribute (attributes.x, attr.x or bare x; dots walk into objects).
func resolveField(key string) (field, error) {
	if f, ok := builtinFields[key]; ok {
		return f, nil
	}
	path := key
	if p, ok := strings.CutPrefix(key, "attributes."); ok {
		path = p
	} else if p, ok := strings.CutPrefix(key, "attr."); ok {
		path = p
	}
	jp, err := AttributePath(path)
	if err != nil {
		return field{}, qerr("field %q: %v", key, err)
	}
	f := field{name: key, kind: fieldAttr, path: jp}
	// SQLite reads a JSON path up to a NUL: such a path names another
	// attribute than its key would.
	if !strings.ContainsRune(path, 0) {
		f.key = path
	}
	return f, nil
}

// AttributePath turns a dotted attribute key into an SQLite JSON path.
func AttributePath(key string) (string, error) {
	parts := strings.Split(key, ".")
	if len(parts) > maxAttrPathKeys {
		return "", fmt.Errorf("more than %d levels", maxAttrPathKeys)
	}
	var b strings.Builder
	b.WriteString("$")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "\"\\$") || !utf8.ValidString(p) || len(p) > 128 {
			return "", fmt.Errorf("attribute names must be non-empty and contain none of . \" \\ $")
		}
		b.WriteString(`."`)
		b.WriteString(p)
		b.WriteString(`"`)
	}
	return b.String(), nil
}

// condition compiles the condition on one field: a bare value ($eq) or an
// object of operators, all of which must hold (one part each).
func (c *compiler) condition(f field, val any, at string) ([]cond, error) {
	ops, isObj := val.(map[string]any)
	if isObj && !isOperatorObject(ops) {
		if f.kind == fieldTime && isDate(ops) {
			part, err := c.op(f, "$eq", val, at)
			return []cond{part}, err
		}
		return nil, qerr("%s: objects are not comparable; use operators such as $eq or $gt", at)
	}
	if !isObj {
		part, err := c.op(f, "$eq", val, at)
		if err == nil {
			err = c.countLookup(part, at)
		}
		return []cond{part}, err
	}
	var parts []cond
	for _, op := range sortedKeys(ops) {
		if op == "$options" {
			if _, ok := ops["$regex"]; !ok {
				return nil, qerr("%s.$options: only goes with $regex", at)
			}
			continue
		}
		arg := ops[op]
		if op == "$regex" {
			arg = [2]any{ops["$regex"], ops["$options"]}
			if c.regexes++; c.regexes > MaxWhereRegexes {
				return nil, qerr("%s: more than %d $regex conditions in where (each may read a whole table): narrow the query", at+"."+op, MaxWhereRegexes)
			}
		}
		part, err := c.op(f, op, arg, at+"."+op)
		if err != nil {
			return nil, err
		}
		if err := c.countLookup(part, at+"."+op); err != nil {
			return nil, err
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// countLookup counts a condition that is an index lookup, up to
// MaxWhereLookups.
func (c *compiler) countLookup(part cond, at string) error {
	if part.set == nil {
		return nil
	}
	if c.lookups++; c.lookups > MaxWhereLookups {
		return qerr("%s: more than %d conditions on members or attributes in where (for many values of one field, use $in)", at, MaxWhereLookups)
	}
	return nil
}

func isOperatorObject(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func isDate(m map[string]any) bool {
	t, _ := m["__type"].(string)
	_, iso := m["iso"].(string)
	return t == "Date" && iso && len(m) == 2
}

// scalar normalises a JSON value for comparison: numbers become int64 or
// float64, dates (on time fields) milliseconds. Arrays and objects fail.
func scalar(f field, v any, at string) (any, error) {
	switch x := v.(type) {
	case nil, string, bool:
		if f.kind == fieldTime && x != nil {
			return nil, qerr("%s: %s is a time: give milliseconds or {\"__type\":\"Date\",\"iso\":...}", at, f.name)
		}
		return x, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		fl, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(fl, 0) {
			return nil, qerr("%s: %s is not a usable number", at, x)
		}
		return fl, nil
	case map[string]any:
		if f.kind == fieldTime && isDate(x) {
			t, err := time.Parse(time.RFC3339Nano, x["iso"].(string))
			if err != nil {
				return nil, qerr("%s: iso %q is not an RFC 3339 time", at, x["iso"])
			}
			return t.UnixMilli(), nil
		}
	}
	return nil, qerr("%s: expected a string, number, boolean or null", at)
}

func (c *compiler) list(f field, v any, at string) ([]any, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, qerr("%s: expected an array", at)
	}
	if len(items) > maxListValues {
		return nil, qerr("%s: more than %d values", at, maxListValues)
	}
	out := make([]any, 0, len(items))
	for i, it := range items {
		s, err := scalar(f, it, fmt.Sprintf("%s[%d]", at, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *compiler) placeholders(vals []any) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = c.arg(v)
	}
	return strings.Join(ph, ", ")
}

// regex validates a $regex operand and returns the RE2 pattern to match.
func regex(v [2]any, at string) (string, error) {
	pat, ok := v[0].(string)
	if !ok {
		return "", qerr("%s: expected a string pattern", at)
	}
	if len(pat) > MaxRegexLen {
		return "", qerr("%s: pattern is longer than %d bytes", at, MaxRegexLen)
	}
	flags := ""
	if v[1] != nil {
		opts, ok := v[1].(string)
		if !ok {
			return "", qerr("%s: $options must be a string", at)
		}
		for _, o := range opts {
			if !strings.ContainsRune("ims", o) {
				return "", qerr("%s: $options %q: only i, m and s are supported", at, opts)
			}
		}
		if opts != "" {
			flags = "(?" + opts + ")"
		}
	}
	if _, err := regexp.Compile(flags + pat); err != nil {
		return "", qerr("%s: %v", at, err)
	}
	return flags + pat, nil
}

// distinct drops repeated values; numbers repeat by value (1 and 1.0).
func distinct(vals []any) []any {
	seen := make(map[any]bool, len(vals))
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		key := v
		if i, ok := v.(int64); ok && int64(float64(i)) == i {
			key = float64(i)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, v)
		}
	}
	return out
}

func (c *compiler) op(f field, op string, v any, at string) (cond, error) {
	switch f.kind {
	case fieldKindIs:
		scan, err := c.capture(func() (string, error) { return c.kindIsOp(f, op, v, at) })
		return scanOnly(scan), err
	case fieldMembers:
		membersOp := c.membersOp
		if c.viewer != "" {
			membersOp = c.viewerMembersOp
		}
		scan, err := c.capture(func() (string, error) { return membersOp(f, op, v, at) })
		if err != nil {
			return cond{}, err
		}
		// muted: the member rows of those who muted (mutedMembers).
		muted := ""
		if f.muted {
			muted = " AND muted = 1"
		}
		// One client's conversations, or several clients': members_by_client.
		var ids []any
		switch x := v.(type) {
		case string:
			ids = []any{x}
		case []any:
			if op == "$in" {
				ids, _ = c.list(f, x, at)
			}
		}
		if (op == "$eq" || op == "$in") && len(ids) > 0 {
			ids, _ = memberIDs(f.name, ids, at)
			inIDs := func() string {
				return "SELECT conversation_id FROM members WHERE client_id IN (" + c.placeholders(ids) + ")" + muted
			}
			if c.viewer == "" {
				set, _ := c.capture(func() (string, error) { return inIDs(), nil })
				return setLookup(scan, set, set, rankMember, false), nil
			}
			// As exact as the row test: of those conversations, the ones
			// the viewer sees the members of. When the viewer is among the
			// ids of members, all of those (not of muted members: the
			// viewer's own conversations are not all muted). The bound,
			// only counted, leaves out the kinds (a search of
			// members_by_client only).
			own := !f.muted && slices.Contains(ids, any(c.viewer))
			set, _ := c.capture(func() (string, error) {
				if own {
					return c.visibleSet(), nil
				}
				return inIDs() + " INTERSECT " + c.visibleSet(), nil
			})
			bound, _ := c.capture(func() (string, error) {
				viewers := "SELECT conversation_id FROM members WHERE client_id = " + c.arg(c.viewer)
				if own {
					return viewers, nil
				}
				return inIDs() + " INTERSECT " + viewers, nil
			})
			return setLookup(scan, set, bound, rankMember, false), nil
		}
		return scanOnly(scan), nil
	case fieldAttr:
		return c.attrCond(f, op, v, at)
	}
	scan, err := c.capture(func() (string, error) { return c.columnOp(f, op, v, at) })
	if err != nil {
		return cond{}, err
	}
	// The primary key.
	if f.col == "c.id" && (op == "$eq" || op == "$in") {
		return selfLookup(scan, rankID), nil
	}
	return scanOnly(scan), nil
}

// columnOp compiles a condition on a column of conversations.
func (c *compiler) columnOp(f field, op string, v any, at string) (string, error) {
	col := f.col
	// The text columns hold strings, the time columns numbers (or NULL when
	// missing). A value of another type never matches, as in MongoDB, and
	// must not reach SQL: TEXT affinity would turn 5 into '5' and match a
	// name "5".
	fits := func(s any) bool {
		switch s.(type) {
		case string:
			return f.kind == fieldColumn
		case int64, float64:
			return f.kind == fieldTime
		}
		return false
	}
	eq := func(s any) string {
		switch {
		case s == nil:
			return col + " IS NULL"
		case fits(s):
			return col + " = " + c.arg(s)
		}
		return "0"
	}
	switch op {
	case "$eq", "$ne":
		s, err := scalar(f, v, at)
		if err != nil {
			return "", err
		}
		switch {
		case op == "$eq":
			return eq(s), nil
		case s == nil:
			return col + " IS NOT NULL", nil
		case fits(s):
			return "(" + col + " IS NULL OR " + col + " <> " + c.arg(s) + ")", nil
		}
		return "1", nil
	case "$gt", "$gte", "$lt", "$lte":
		s, err := scalar(f, v, at)
		if err != nil {
			return "", err
		}
		switch s.(type) {
		case nil, bool:
			return "", qerr("%s: order comparisons take a number or a string", at)
		}
		if !fits(s) {
			return "0", nil
		}
		return col + " " + cmpOps[op] + " " + c.arg(s), nil
	case "$in", "$nin":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		var rest []any
		hasNull := false
		for _, s := range vals {
			if s == nil {
				hasNull = true
			} else if fits(s) {
				rest = append(rest, s)
			}
		}
		var parts []string
		if len(rest) > 0 {
			parts = append(parts, col+" IN ("+c.placeholders(rest)+")")
		}
		if hasNull {
			parts = append(parts, col+" IS NULL")
		}
		in := join(parts, " OR ", "0")
		if op == "$nin" {
			return "NOT coalesce(" + in + ", 0)", nil
		}
		return in, nil
	case "$all":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		// A scalar equals every value only when there is one value.
		if vals = distinct(vals); len(vals) != 1 {
			return "0", nil
		}
		return eq(vals[0]), nil
	case "$exists":
		b, ok := v.(bool)
		if !ok {
			return "", qerr("%s: expected true or false", at)
		}
		if b {
			return col + " IS NOT NULL", nil
		}
		return col + " IS NULL", nil
	case "$regex":
		pat, err := regex(v.([2]any), at)
		if err != nil {
			return "", err
		}
		return "parley_regexp(" + c.arg(pat) + ", " + col + ")", nil
	}
	return "", qerr("%s: unknown operator", at)
}

var cmpOps = map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// kindIsOp compiles tr and sys, booleans derived from the kind.
func (c *compiler) kindIsOp(f field, op string, v any, at string) (string, error) {
	switch op {
	case "$eq", "$ne":
		b, ok := v.(bool)
		if !ok {
			return "", qerr("%s: %s is true or false", at, f.name)
		}
		if b == (op == "$eq") {
			return "c.kind = " + c.arg(f.col), nil
		}
		return "c.kind <> " + c.arg(f.col), nil
	case "$exists":
		if b, ok := v.(bool); ok {
			if b {
				return "1", nil
			}
			return "0", nil
		}
		return "", qerr("%s: expected true or false", at)
	}
	return "", qerr("%s: %s supports $eq, $ne and $exists", at, f.name)
}

// membersOp compiles conditions on the member set, or with mf.muted on the
// set of the members who muted the conversation (mutedMembers, a subset of
// it, present wherever the member set is); a scalar matches when the set
// contains it, as MongoDB compares arrays with scalars.
func (c *compiler) membersOp(mf field, op string, v any, at string) (string, error) {
	f := field{name: mf.name}
	muted := mutedRows(mf)
	memberOf := func(cond string) string {
		return "c.id IN (SELECT conversation_id FROM members WHERE " + muted + cond + ")"
	}
	switch op {
	case "$eq", "$ne":
		var cond string
		if arr, ok := v.([]any); ok {
			vals, err := c.list(f, arr, at)
			if err != nil {
				return "", err
			}
			ids, err := memberIDs(mf.name, vals, at)
			if err != nil {
				return "", err
			}
			// The same set: as many members as ids, and all of them present.
			// A chat room has no member list at all, not an empty one.
			head := "(c.kind <> " + c.arg("chatroom") + " AND " + setSize(mf) + " = " + c.arg(len(ids))
			cond = head + " AND (SELECT count(*) FROM members mm WHERE mm.conversation_id = c.id AND " + mutedRows(mf, "mm.") +
				"mm.client_id IN (" + c.placeholders(ids) + ")) = " + c.arg(len(ids)) + ")"
		} else {
			id, ok := v.(string)
			if !ok {
				return "", qerr("%s: %s holds clientIds (strings)", at, mf.name)
			}
			cond = memberOf("client_id = " + c.arg(id))
		}
		if op == "$ne" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$in", "$nin", "$all":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		ids, err := memberIDs(mf.name, vals, at)
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			return map[string]string{"$in": "0", "$nin": "1", "$all": "0"}[op], nil
		}
		if op == "$all" {
			return "(SELECT count(*) FROM members mm WHERE mm.conversation_id = c.id AND " + mutedRows(mf, "mm.") +
				"mm.client_id IN (" + c.placeholders(ids) + ")) = " + c.arg(len(ids)), nil
		}
		cond := memberOf("client_id IN (" + c.placeholders(ids) + ")")
		if op == "$nin" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$exists":
		b, ok := v.(bool)
		if !ok {
			return "", qerr("%s: expected true or false", at)
		}
		// The README: members are absent for chat rooms; any other conversation
		// has a member list, possibly empty, and so a list of the muted.
		if b {
			return "c.kind <> " + c.arg("chatroom"), nil
		}
		return "c.kind = " + c.arg("chatroom"), nil
	case "$regex":
		pat, err := regex(v.([2]any), at)
		if err != nil {
			return "", err
		}
		return memberOf("parley_regexp(" + c.arg(pat) + ", client_id)"), nil
	}
	return "", qerr("%s: %s supports $eq, $ne, $in, $nin, $all, $exists and $regex", at, mf.name)
}

// mutedRows is the test that a member row (of the table alias, "mm." say)
// is one of the set mf names, followed by AND: none for members, the
// muted flag for mutedMembers.
func mutedRows(mf field, alias ...string) string {
	if !mf.muted {
		return ""
	}
	return strings.Join(alias, "") + "muted = 1 AND "
}

// setSize is the size of the set mf names in the conversation c: its
// member count, or how many of its members muted it.
func setSize(mf field) string {
	if !mf.muted {
		return "c.member_count"
	}
	return "(SELECT count(*) FROM members mm WHERE mm.conversation_id = c.id AND mm.muted = 1)"
}

// visibleKinds are the kinds of conversation whose member list a member
// sees (see CompileWhereFor).
const visibleKinds = "('normal', 'temporary')"

// visible tests that the viewer sees the member list of the conversation c:
// it is a member of it, and it is normal or temporary.
func (c *compiler) visible() string {
	return "(c.kind IN " + visibleKinds + " AND c.id IN (SELECT conversation_id FROM members WHERE client_id = " + c.arg(c.viewer) + "))"
}

// visibleSet selects the conversations whose member list the viewer sees.
func (c *compiler) visibleSet() string {
	return "SELECT m.conversation_id AS conversation_id FROM members m JOIN conversations k ON k.id = m.conversation_id" +
		" WHERE m.client_id = " + c.arg(c.viewer) + " AND k.kind IN " + visibleKinds
}

// viewerMembersOp is membersOp as the viewer sees member lists: each
// condition holds of a list the viewer sees, and a missing one (where it
// sees none) matches as a chat room's does. The muted members (mf.muted)
// are members: the viewer sees them exactly where it sees the members.
// Every test is 0 or 1, never NULL, so that NOT is the exact negation.
func (c *compiler) viewerMembersOp(mf field, op string, v any, at string) (string, error) {
	f := field{name: mf.name}
	muted := mutedRows(mf)
	// seen: the viewer sees the list, and it satisfies cond (after the
	// test of the view, so that its arguments follow).
	seen := func(cond func() string) string {
		vis := c.visible()
		return "(" + vis + " AND " + cond() + ")"
	}
	memberOf := func(cond string) string {
		return "c.id IN (SELECT conversation_id FROM members WHERE " + muted + cond + ")"
	}
	switch op {
	case "$eq", "$ne":
		var cond string
		if arr, ok := v.([]any); ok {
			vals, err := c.list(f, arr, at)
			if err != nil {
				return "", err
			}
			ids, err := memberIDs(mf.name, vals, at)
			if err != nil {
				return "", err
			}
			// The same set: as many members as ids, and all of them present.
			cond = seen(func() string {
				head := setSize(mf) + " = " + c.arg(len(ids))
				return head + " AND (SELECT count(*) FROM members mm WHERE mm.conversation_id = c.id AND " + mutedRows(mf, "mm.") +
					"mm.client_id IN (" + c.placeholders(ids) + ")) = " + c.arg(len(ids))
			})
		} else {
			id, ok := v.(string)
			if !ok {
				return "", qerr("%s: %s holds clientIds (strings)", at, mf.name)
			}
			if id == c.viewer && !mf.muted { // the viewer's own conversations
				cond = c.visible()
			} else {
				cond = seen(func() string { return memberOf("client_id = " + c.arg(id)) })
			}
		}
		if op == "$ne" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$in", "$nin", "$all":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		ids, err := memberIDs(mf.name, vals, at)
		if err != nil {
			return "", err
		}
		if len(ids) == 0 {
			return map[string]string{"$in": "0", "$nin": "1", "$all": "0"}[op], nil
		}
		if op == "$all" {
			return seen(func() string {
				return "(SELECT count(*) FROM members mm WHERE mm.conversation_id = c.id AND " + mutedRows(mf, "mm.") +
					"mm.client_id IN (" + c.placeholders(ids) + ")) = " + c.arg(len(ids))
			}), nil
		}
		var cond string
		if !mf.muted && slices.Contains(ids, any(c.viewer)) {
			cond = c.visible()
		} else {
			cond = seen(func() string { return memberOf("client_id IN (" + c.placeholders(ids) + ")") })
		}
		if op == "$nin" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$exists":
		b, ok := v.(bool)
		if !ok {
			return "", qerr("%s: expected true or false", at)
		}
		if b {
			return c.visible(), nil
		}
		return "NOT " + c.visible(), nil
	case "$regex":
		pat, err := regex(v.([2]any), at)
		if err != nil {
			return "", err
		}
		// The pattern runs on the members of the viewer's conversations
		// only, not on every member row.
		return seen(func() string {
			return "c.id IN (SELECT mm.conversation_id FROM members vm JOIN members mm ON mm.conversation_id = vm.conversation_id" +
				" WHERE vm.client_id = " + c.arg(c.viewer) + " AND " + mutedRows(mf, "mm.") + "parley_regexp(" + c.arg(pat) + ", mm.client_id))"
		}), nil
	}
	return "", qerr("%s: %s supports $eq, $ne, $in, $nin, $all, $exists and $regex", at, mf.name)
}

func memberIDs(name string, vals []any, at string) ([]any, error) {
	seen := map[string]bool{}
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, qerr("%s: %s holds clientIds (strings)", at, name)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// jsonLoc reads one JSON value in SQL: typ gives its json_type ('null',
// 'true', 'false', 'integer', 'real', 'text', 'array', 'object'; NULL when it
// is missing) and val its SQL value. Each call appends the arguments of the
// text it returns, so callers must call them in the order the text reads.
type jsonLoc struct {
	typ, val func() string
	// length is json_array_length of the value and each(alias) a json_each
	// table of its elements; only for a value whose typ is 'array'.
	length func() string
	each   func(alias string) string
}

// sameElement matches the elements of json_each tables e and q that are
// equal: within one JSON type, numbers by value.
const sameElement = "((e.type IN ('integer', 'real') AND q.type IN ('integer', 'real') OR e.type = q.type) AND (e.type IN ('null', 'true', 'false') OR e.value = q.value))"

// valueSet is a set of scalars grouped by JSON type, to test membership
// with one IN list per type.
type valueSet struct {
	null, yes, no bool
	nums, strs    []any
}

func setOf(vals ...any) valueSet {
	var s valueSet
	for _, v := range distinct(vals) {
		switch x := v.(type) {
		case nil:
			s.null = true
		case bool:
			s.yes, s.no = s.yes || x, s.no || !x
		case string:
			s.strs = append(s.strs, x)
		default:
			s.nums = append(s.nums, x)
		}
	}
	return s
}

func (s valueSet) empty() bool {
	return !s.null && !s.yes && !s.no && len(s.nums) == 0 && len(s.strs) == 0
}

// isOneOf tests that the value at l is one of s, within its type: numbers
// with numbers (1 = 1.0), strings with strings, never a boolean with 1 or an
// object's JSON text with a string. NULL when l is missing.
func (c *compiler) isOneOf(l jsonLoc, s valueSet) string {
	var parts []string
	if s.null {
		parts = append(parts, l.typ()+" = 'null'")
	}
	switch {
	case s.yes && s.no:
		parts = append(parts, l.typ()+" IN ('true', 'false')")
	case s.yes:
		parts = append(parts, l.typ()+" = 'true'")
	case s.no:
		parts = append(parts, l.typ()+" = 'false'")
	}
	if len(s.nums) > 0 {
		parts = append(parts, "("+l.typ()+" IN ('integer', 'real') AND "+l.val()+" IN ("+c.placeholders(s.nums)+"))")
	}
	if len(s.strs) > 0 {
		parts = append(parts, "("+l.typ()+" = 'text' AND "+l.val()+" IN ("+c.placeholders(s.strs)+"))")
	}
	return join(parts, " OR ", "0")
}

// attrCond compiles a condition on a custom attribute: attrOp's row test
// and, for the operators that select by value ($eq and $in of non-null
// scalars, $all, order comparisons, $exists: true, $regex), a lookup in
// conversation_attributes with the same result. Negations ($ne, $nin,
// $exists: false) and null (which matches a missing attribute) have rows
// outside the index, arrays as values need the whole array: they are row
// tests only.
func (c *compiler) attrCond(f field, op string, v any, at string) (cond, error) {
	scan, err := c.capture(func() (string, error) { return c.attrOp(f, op, v, at) })
	if err != nil || f.key == "" {
		return scanOnly(scan), err
	}
	// attrOp has validated the operand: the errors below cannot happen.
	// sel starts a SELECT of the conversations with a row of the key.
	sel := func() string {
		return "SELECT conversation_id FROM conversation_attributes WHERE key = " + c.arg(f.key)
	}
	lookup := func(rank int, set func() string) (cond, error) {
		s, _ := c.capture(func() (string, error) { return set(), nil })
		return setLookup(scan, s, s, rank, true), nil
	}
	switch op {
	case "$eq", "$in":
		var vals []any
		if op == "$in" {
			vals, _ = c.list(f, v, at)
		} else if _, isArr := v.([]any); !isArr {
			s, _ := scalar(f, v, at)
			vals = []any{s}
		}
		set := setOf(vals...)
		if set.null || set.empty() {
			break
		}
		rank := rankIn
		if op == "$eq" {
			rank = rankEqual
		}
		return lookup(rank, func() string { return c.lookupSet(f.key, set, "conversation_id") })
	case "$all":
		vals, _ := c.list(f, v, at)
		switch vals = distinct(vals); {
		case len(vals) == 0 || len(vals) == 1 && vals[0] == nil:
			break
		case len(vals) == 1:
			return lookup(rankEqual, func() string { return c.lookupSet(f.key, setOf(vals...), "conversation_id") })
		default:
			// An array holding every value: as many distinct values among
			// its rows as asked, numbers counted by value (1 = 1.0).
			rows, _ := c.capture(func() (string, error) {
				return c.lookupSet(f.key, setOf(vals...), "conversation_id, type, value"), nil
			})
			set := frag{
				sql: "SELECT conversation_id FROM (" + rows.sql + ") GROUP BY conversation_id HAVING count(DISTINCT CASE" +
					" WHEN type = 'text' THEN 's:' || value WHEN type IN ('integer', 'real') THEN value ELSE type END) = ?",
				args: append(slices.Clip(rows.args), len(vals)),
			}
			cd := setLookup(scan, set, rows, rankEqual, true)
			cd.values = len(vals)
			return cd, nil
		}
	case "$gt", "$gte", "$lt", "$lte":
		s, _ := scalar(f, v, at)
		rng := &attrRange{key: f.key, op: op, val: s}
		cd, _ := lookup(rankRange, func() string { return sel() + " AND " + rng.types("") + " AND value " + cmpOps[op] + " " + c.arg(s) })
		cd.rng = rng
		return cd, nil
	case "$exists":
		if v == true {
			return lookup(rankExists, sel)
		}
	case "$regex":
		pat, _ := regex(v.([2]any), at)
		set, bound, rank := c.regexLookup(f.key, pat)
		return setLookup(scan, set, bound, rank, true), nil
	}
	return scanOnly(scan), nil
}

// regexDistinct is how many distinct strings of a key a regex lookup
// matches one by one; the rows past them are matched row by row.
const regexDistinct = 256

// regexLookup selects the conversations with a string under key that matches
// pat. Many rows hold the same string (a topic, a language): the lookup
// walks the distinct strings of the key (a search of the primary key for
// each, from the literal prefix of the pattern when it has one), matches
// each of them once, and collects the rows of those that match. Past the
// first regexDistinct strings (a key of names, of ids), the rows left are
// matched one by one, so that the walk cannot cost much more than they
// would. Before the regex, each string is tested for the literals every
// match holds. bound, for planQuery to count, takes all the rows past the
// strings walked: exact for a key of a few hundred strings at most, cheap
// to count for the others.
func (c *compiler) regexLookup(key, pat string) (set, bound frag, rank int) {
	prefix, literals, folded := regexLiterals(pat)
	rank = rankExists
	if prefix != "" {
		rank = rankRange
	}
	// within: the text rows of the key, from the prefix's range when there
	// is one; after, only those past a string.
	within := func(after string) string {
		sql := "key = " + c.arg(key) + " AND type = 'text'"
		switch {
		case after != "":
			sql += " AND value > " + after
		case prefix != "":
			sql += " AND value >= " + c.arg(prefix)
		}
		if upper, ok := prefixEnd(prefix); ok {
			sql += " AND value < " + c.arg(upper)
		}
		return sql
	}
	matches := func(col string) string {
		var sql string
		for _, lit := range literals {
			sql += " AND instr(" + col + ", " + c.arg(lit) + ") > 0"
		}
		for _, lit := range folded {
			sql += " AND " + col + " LIKE " + c.arg(likeContaining(lit)) + ` ESCAPE '\'`
		}
		return sql + " AND parley_regexp(" + c.arg(pat) + ", " + col + ")"
	}
	// v: the first regexDistinct strings of the key, in order (n counts
	// them), a NULL after the last; then the rows of those that match and
	// of the strings past them (those that match, with tail).
	sel := func(tail bool) string {
		n := strconv.Itoa(regexDistinct)
		sql := "SELECT conversation_id FROM (WITH RECURSIVE v(value, n) AS (SELECT min(value), 1 FROM conversation_attributes WHERE " + within("") +
			" UNION ALL SELECT (SELECT min(value) FROM conversation_attributes WHERE " + within("v.value") + "), n + 1 FROM v" +
			" WHERE v.value IS NOT NULL AND v.n < " + n + ")" +
			" SELECT a.conversation_id FROM v CROSS JOIN conversation_attributes a ON a.key = " + c.arg(key) +
			" AND a.type = 'text' AND a.value = v.value WHERE v.value IS NOT NULL" + matches("v.value") +
			" UNION ALL SELECT conversation_id FROM conversation_attributes WHERE " + within("(SELECT value FROM v WHERE n = "+n+")")
		if tail {
			sql += matches("value")
		}
		return sql + ")"
	}
	set, _ = c.capture(func() (string, error) { return sel(true), nil })
	bound, _ = c.capture(func() (string, error) { return sel(false), nil })
	return set, bound, rank
}

// lookupSet selects cols from the conversation_attributes rows of key that
// equal one of s, each within its type as isOneOf compares: numbers by
// value, strings exactly, booleans and null by type. One SELECT per type,
// so that each is a search of the primary key.
func (c *compiler) lookupSet(key string, s valueSet, cols string) string {
	var sels []string
	sel := func(cond func() string) {
		head := "SELECT " + cols + " FROM conversation_attributes WHERE key = " + c.arg(key) + " AND "
		sels = append(sels, head+cond())
	}
	if len(s.strs) > 0 {
		sel(func() string { return "type = 'text' AND value IN (" + c.placeholders(s.strs) + ")" })
	}
	if len(s.nums) > 0 {
		sel(func() string { return "type IN ('integer', 'real') AND value IN (" + c.placeholders(s.nums) + ")" })
	}
	var types []string
	if s.yes {
		types = append(types, "'true'")
	}
	if s.no {
		types = append(types, "'false'")
	}
	if s.null {
		types = append(types, "'null'")
	}
	if len(types) > 0 {
		sel(func() string { return "type IN (" + strings.Join(types, ", ") + ")" })
	}
	return strings.Join(sels, " UNION ALL ")
}

// regexLiterals reads what every match of an RE2 pattern holds: prefix, a
// literal it starts with when it is anchored at the start of the text;
// literals, strings it contains wherever; folded, strings it contains up to
// ASCII case (those of (?i) whose letters fold only within ASCII, so that
// SQLite's LIKE finds them). All are empty when the pattern says nothing
// certain.
func regexLiterals(pattern string) (prefix string, literals, folded []string) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", nil, nil
	}
	seq := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		seq = re.Sub
	}
	anchored := len(seq) > 0 && seq[0].Op == syntax.OpBeginText
	for i, sub := range seq {
		for sub.Op == syntax.OpCapture {
			sub = sub.Sub[0]
		}
		if sub.Op != syntax.OpLiteral {
			continue
		}
		lit := string(sub.Rune)
		// Go's regexp reads an invalid byte of the text as U+FFFD, where
		// SQLite would not find it.
		if strings.ContainsRune(lit, utf8.RuneError) || strings.ContainsRune(lit, 0) {
			continue
		}
		switch {
		case sub.Flags&syntax.FoldCase != 0:
			if asciiFolds(sub.Rune) {
				folded = append(folded, lit)
			}
		case anchored && i == 1:
			prefix = lit
		default:
			literals = append(literals, lit)
		}
	}
	return prefix, literals, folded
}

// asciiFolds reports whether every rune, and every rune that (?i) takes as
// the same, is ASCII: then SQLite's LIKE, which folds ASCII letters only,
// matches what the regex does (K, for one, also matches the Kelvin sign).
func asciiFolds(runes []rune) bool {
	for _, r := range runes {
		if r >= utf8.RuneSelf {
			return false
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				return false
			}
		}
	}
	return true
}

// likeContaining is a LIKE pattern (with ESCAPE '\') for the strings that
// contain s.
func likeContaining(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}

// prefixEnd is the least string greater than every string that starts with
// prefix (SQLite compares text bytewise); ok is false when there is none.
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// attributesJSON is the attributes of the conversation c as the JSON
// functions of the row tests (and of the sort) read them: attributes SQLite
// cannot read as none, as the index of migration 0006 reads them, rather
// than an error of every query that reads the row. Handlers store JSON they
// encoded, which SQLite cannot read only when nested deeper than its parser
// goes (1000 levels): that takes more than 1000 bytes, so shorter
// attributes, nearly all, skip the parse that checks (which would make the
// row tests 2.4 times as slow).
const attributesJSON = "CASE WHEN octet_length(c.attributes) <= 1000 OR json_valid(c.attributes, 6) THEN c.attributes ELSE '{}' END"

// attrOp compiles a condition on a custom attribute with MongoDB's
// semantics: comparisons stay within one JSON type (json_type tells it), an
// array attribute matches a scalar when one of its elements does, null
// matches a missing attribute too, and $ne and $nin are exact negations (every
// test here is 0 or 1, never NULL, so that NOT cannot lose a row).
func (c *compiler) attrOp(f field, op string, v any, at string) (string, error) {
	// Placeholders are numbered by position, so each use appends its own
	// argument, in the order the text reads.
	top := jsonLoc{
		typ:    func() string { return "json_type(" + attributesJSON + ", " + c.arg(f.path) + ")" },
		val:    func() string { return "json_extract(" + attributesJSON + ", " + c.arg(f.path) + ")" },
		length: func() string { return "json_array_length(" + attributesJSON + ", " + c.arg(f.path) + ")" },
		each: func(alias string) string {
			return "json_each(" + attributesJSON + ", " + c.arg(f.path) + ") AS " + alias
		},
	}
	// An element of the array attribute, from the json_each table el; its
	// value is JSON text when it is itself an array.
	element := jsonLoc{
		typ:    func() string { return "el.type" },
		val:    func() string { return "el.value" },
		length: func() string { return "json_array_length(el.value)" },
		each:   func(alias string) string { return "json_each(el.value) AS " + alias },
	}
	// some: the attribute is an array and one of its elements satisfies cond.
	some := func(cond func(jsonLoc) string) string {
		head := "coalesce(" + top.typ() + " = 'array' AND EXISTS (SELECT 1 FROM " + top.each("el") + " WHERE "
		return head + cond(element) + "), 0)"
	}
	// either: the attribute satisfies cond, or one of its elements does.
	either := func(cond func(jsonLoc) string) string {
		head := "(coalesce(" + cond(top) + ", 0) OR "
		return head + some(cond) + ")"
	}
	in := func(s valueSet) string {
		if s.empty() {
			return "0"
		}
		missing := ""
		if s.null {
			missing = top.typ() + " IS NULL OR "
		}
		return "(" + missing + either(func(l jsonLoc) string { return c.isOneOf(l, s) }) + ")"
	}
	// jsonList passes a list of scalars as one JSON argument, read with
	// json_each: the SQL stays small however long the list.
	jsonList := func(vals []any) string {
		b, _ := json.Marshal(vals) // scalars only: cannot fail
		return c.arg(string(b))
	}
	// sameArray: the value at l is an array equal to vals, element by
	// element. CASE evaluates the rest only on an array (JSON functions fail
	// on the text of a json_each string).
	sameArray := func(vals []any) func(jsonLoc) string {
		return func(l jsonLoc) string {
			head := "CASE WHEN " + l.typ() + " = 'array' THEN " + l.length() + " = " + c.arg(len(vals))
			return head + " AND (SELECT count(*) FROM " + l.each("e") + " JOIN json_each(" + jsonList(vals) +
				") AS q ON q.key = e.key WHERE " + sameElement + ") = " + c.arg(len(vals)) + " ELSE 0 END"
		}
	}
	switch op {
	case "$eq", "$ne":
		var cond string
		if arr, ok := v.([]any); ok {
			vals, err := c.list(f, arr, at)
			if err != nil {
				return "", err
			}
			cond = either(sameArray(vals))
		} else {
			s, err := scalar(f, v, at)
			if err != nil {
				return "", err
			}
			cond = in(setOf(s))
		}
		if op == "$ne" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$gt", "$gte", "$lt", "$lte":
		s, err := scalar(f, v, at)
		if err != nil {
			return "", err
		}
		types := "('integer', 'real')"
		switch s.(type) {
		case string:
			types = "('text')"
		case nil, bool:
			return "", qerr("%s: order comparisons take a number or a string", at)
		}
		return either(func(l jsonLoc) string {
			head := "(" + l.typ() + " IN " + types + " AND "
			return head + l.val() + " " + cmpOps[op] + " " + c.arg(s) + ")"
		}), nil
	case "$in", "$nin":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		cond := in(setOf(vals...))
		if op == "$nin" {
			return "NOT " + cond, nil
		}
		return cond, nil
	case "$all":
		vals, err := c.list(f, v, at)
		if err != nil {
			return "", err
		}
		// An $and of equalities: one value is $eq; a scalar cannot equal two
		// different values, so with more only an array holding every one of
		// them matches.
		switch vals = distinct(vals); len(vals) {
		case 0:
			return "0", nil
		case 1:
			return in(setOf(vals[0])), nil
		}
		head := "coalesce(" + top.typ() + " = 'array' AND (SELECT count(*) FROM json_each(" + jsonList(vals) + ") AS q WHERE EXISTS (SELECT 1 FROM "
		return head + top.each("e") + " WHERE " + sameElement + ")) = " + c.arg(len(vals)) + ", 0)", nil
	case "$exists":
		b, ok := v.(bool)
		if !ok {
			return "", qerr("%s: expected true or false", at)
		}
		if b {
			return top.typ() + " IS NOT NULL", nil
		}
		return top.typ() + " IS NULL", nil
	case "$regex":
		pat, err := regex(v.([2]any), at)
		if err != nil {
			return "", err
		}
		return either(func(l jsonLoc) string {
			head := "(" + l.typ() + " = 'text' AND "
			return head + "parley_regexp(" + c.arg(pat) + ", " + l.val() + "))"
		}), nil
	}
	return "", qerr("%s: unknown operator", at)
}

// CompileSort turns "a,-b" into an ORDER BY list (descending with -), with
// the id as the final tie-breaker so that pages never overlap.
func CompileSort(spec string) (string, []any, error) {
	if strings.TrimSpace(spec) == "" {
		spec = "-lastMessageAt"
	}
	var terms []string
	var args []any
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		dir := "ASC"
		if p, ok := strings.CutPrefix(part, "-"); ok {
			part, dir = p, "DESC"
		}
		if part == "" {
			return "", nil, qerr("sort: empty field in %q", spec)
		}
		f, err := resolveField(part)
		if err != nil {
			return "", nil, qerr("sort: %v", err.(*QueryError).Detail)
		}
		switch f.kind {
		case fieldColumn, fieldTime:
			terms = append(terms, f.col+" "+dir)
		case fieldAttr:
			terms = append(terms, "json_extract("+attributesJSON+", ?) "+dir)
			args = append(args, f.path)
		default:
			return "", nil, qerr("sort: cannot sort by %s", part)
		}
	}
	if len(terms) > 8 {
		return "", nil, qerr("sort: at most 8 fields")
	}
	return strings.Join(append(terms, "c.id ASC"), ", "), args, nil
}
