package convquery

// A reference implementation of the conversation query language, written
// from the README ("Querying conversations") and MongoDB's documented semantics rather
// than from the SQL compiler, and a randomized test that runs thousands of
// random queries over a few hundred random conversations through both and
// compares the sets of ids they select.
//
// Reproduce a failure with its seed:
//
//	go test ./store/convquery -run TestWhereMatchesReference -seed=N
//	PARLEY_WHERE_SEED=N go test ./store/convquery -run TestWhereMatchesReference
//
// PARLEY_WHERE_SEED=random picks a fresh seed (logged), for soak runs;
// PARLEY_WHERE_QUERIES=n runs n queries instead of the default;
// PARLEY_WHERE_DEBUG=1 logs the queries both reject or that select nothing,
// to tune the generator.
//
// The document model the reference evaluates, field by field:
//
//   - id (alias objectId), name, kind, creator (alias c): strings, always
//     present (creator is "" for conversations made with the master key,
//     still a string).
//   - members (alias m): the set of member clientIds. the README says members are
//     absent for chat rooms: a chat room has no members field; every other
//     conversation has an array, possibly empty (a system conversation's
//     members are its subscribers). Being a set, members compared with an
//     array matches when the sets are equal, whatever the order or repeats.
//     That is the master key's view. A client (the viewer) sees the members
//     of the normal and temporary conversations it is a member of; for it,
//     every other conversation has no members field, as a chat room.
//   - mutedMembers (alias mu): the set of the members who muted the
//     conversation, present exactly where members is (for the viewer too:
//     muted members are members), possibly empty.
//   - tr, sys: booleans, kind = chatroom and kind = system; always present.
//   - lastMessageAt (lm), createdAt, updatedAt: numbers of milliseconds;
//     lastMessageAt is missing before the first message. A query may give a
//     time as a number or as {"__type":"Date","iso":RFC 3339}.
//   - anything else: the custom attribute (attributes.x, attr.x, bare x);
//     dots walk into nested objects only (a numeric key names an object key,
//     not an array index: MongoDB's "a.0" array indexing is not offered).
//
// MongoDB semantics, as the reference applies them:
//
//   - A bare value is $eq. Equality is within a type: numbers compare by value
//     (1 = 1.0, as MongoDB compares int and double), never with strings or
//     booleans (true ≠ 1, "1" ≠ 1); strings compare exactly (case matters).
//   - An array field compared with a scalar matches when an element equals it;
//     compared with an array, when it equals the array (same elements in the
//     same order, MongoDB's array equality; members: the same set).
//   - null matches a missing field, a null and an array holding null.
//   - $ne and $nin are the negations of $eq and $in, so they also match a
//     missing field.
//   - $gt $gte $lt $lte compare within a type: a number with numbers, a string
//     with strings (bytewise, as MongoDB's simple collation); an array field
//     matches when any element does, each operator on its own.
//   - $in: equal to any value (empty list: nothing); $all: equal to every
//     value, i.e. an $and of equalities (empty list: nothing).
//   - $exists: the field is present (a null attribute is present).
//   - $regex (RE2, $options from i, m, s): a string matching it, or an array
//     with a string element matching it; other types never match.
//   - $or / $and: non-empty arrays of conditions; keys of an object all hold.
//   - Temporary conversations are never listed.
//
// Queries the reference rejects, as the compiler's documented restrictions:
// unknown operators, objects as values (except dates on time fields), arrays
// as $eq values of scalar fields, order comparisons against null or booleans,
// strings or booleans on time fields, anything but true/false (and only $eq,
// $ne, $exists) on tr and sys, anything but clientId strings on members and
// only $eq $ne $in $nin $all $exists $regex there, $exists with a non-boolean,
// $options without $regex or with other flags, invalid or over-long patterns,
// numbers out of float range and malformed attribute names.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parley-im/parley/store"
	"github.com/parley-im/parley/store/internal/attrgen"
)

var whereSeedFlag = flag.Int64("seed", 0, "seed of TestWhereMatchesReference (0: $PARLEY_WHERE_SEED, else a fixed seed)")

const defaultWhereSeed = 20260611

func whereSeed(t *testing.T) int64 {
	if *whereSeedFlag != 0 {
		return *whereSeedFlag
	}
	switch s := os.Getenv("PARLEY_WHERE_SEED"); s {
	case "":
		return defaultWhereSeed
	case "random":
		return time.Now().UnixNano()
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("PARLEY_WHERE_SEED=%q: %v", s, err)
		}
		return n
	}
}

// ---------------------------------------------------------------------------
// The reference evaluator.

// refConv is a conversation as the reference sees it.
type refConv struct {
	ID, Kind, Name, Creator string
	Members                 []string // nil and ignored for chat rooms
	Muted                   []string // the members who muted it
	CreatedAt, UpdatedAt    int64
	LastMessageAt           *int64
	AttrJSON                string         // as stored
	attrs                   map[string]any // AttrJSON decoded: numbers are float64
}

// refPred decides whether a conversation matches.
type refPred func(*refConv) bool

type refFieldClass int

const (
	refText      refFieldClass = iota // id, name, kind, creator
	refTimeMs                         // lastMessageAt, createdAt, updatedAt
	refFlag                           // tr, sys
	refMemberSet                      // members
	refCustom                         // a custom attribute
)

type refField struct {
	class refFieldClass
	get   func(*refConv) (v any, present bool)
}

func refRejected(format string, args ...any) error { return fmt.Errorf(format, args...) }

// refCompile parses a where query into a predicate, or rejects it.
func refCompile(raw []byte) (refPred, error) { return refCompileFor(raw, "") }

// refCompileFor is refCompile as the client viewer sees conversations (""
// for the master key).
func refCompileFor(raw []byte, viewer string) (refPred, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return func(*refConv) bool { return true }, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, refRejected("trailing data")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, refRejected("not an object")
	}
	return refObject(obj, viewer)
}

func refAll(preds []refPred) refPred {
	return func(c *refConv) bool {
		for _, p := range preds {
			if !p(c) {
				return false
			}
		}
		return true
	}
}

func refAny(preds []refPred) refPred {
	return func(c *refConv) bool {
		for _, p := range preds {
			if p(c) {
				return true
			}
		}
		return false
	}
}

func refObject(obj map[string]any, viewer string) (refPred, error) {
	var preds []refPred
	for key, val := range obj {
		switch {
		case key == "$or" || key == "$and":
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				return nil, refRejected("%s: not a non-empty array", key)
			}
			var subs []refPred
			for _, item := range list {
				sub, ok := item.(map[string]any)
				if !ok {
					return nil, refRejected("%s: item not an object", key)
				}
				p, err := refObject(sub, viewer)
				if err != nil {
					return nil, err
				}
				subs = append(subs, p)
			}
			if key == "$or" {
				preds = append(preds, refAny(subs))
			} else {
				preds = append(preds, refAll(subs))
			}
		case strings.HasPrefix(key, "$"):
			return nil, refRejected("%s: unknown top-level operator", key)
		default:
			f, err := refFieldOf(key, viewer)
			if err != nil {
				return nil, err
			}
			p, err := refCondition(f, val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			preds = append(preds, p)
		}
	}
	return refAll(preds), nil
}

// refFieldOf is the field key names, as viewer sees it ("": the master key).
func refFieldOf(key, viewer string) (refField, error) {
	text := func(get func(*refConv) string) refField {
		return refField{class: refText, get: func(c *refConv) (any, bool) { return get(c), true }}
	}
	ms := func(get func(*refConv) *int64) refField {
		return refField{class: refTimeMs, get: func(c *refConv) (any, bool) {
			if p := get(c); p != nil {
				return float64(*p), true
			}
			return nil, false
		}}
	}
	isKind := func(kind string) refField {
		return refField{class: refFlag, get: func(c *refConv) (any, bool) { return c.Kind == kind, true }}
	}
	switch key {
	case "id", "objectId":
		return text(func(c *refConv) string { return c.ID }), nil
	case "name":
		return text(func(c *refConv) string { return c.Name }), nil
	case "kind":
		return text(func(c *refConv) string { return c.Kind }), nil
	case "creator", "c":
		return text(func(c *refConv) string { return c.Creator }), nil
	case "members", "m", "mutedMembers", "mu":
		muted := key == "mutedMembers" || key == "mu"
		return refField{class: refMemberSet, get: func(c *refConv) (any, bool) {
			if c.Kind == "chatroom" {
				return nil, false
			}
			if viewer != "" && (c.Kind != "normal" && c.Kind != "temporary" || !slices.Contains(c.Members, viewer)) {
				return nil, false
			}
			set := c.Members
			if muted {
				set = c.Muted
			}
			arr := make([]any, len(set))
			for i, m := range set {
				arr[i] = m
			}
			return arr, true
		}}, nil
	case "tr":
		return isKind("chatroom"), nil
	case "sys":
		return isKind("system"), nil
	case "lastMessageAt", "lm":
		return ms(func(c *refConv) *int64 { return c.LastMessageAt }), nil
	case "createdAt":
		return ms(func(c *refConv) *int64 { return &c.CreatedAt }), nil
	case "updatedAt":
		return ms(func(c *refConv) *int64 { return &c.UpdatedAt }), nil
	}
	name := key
	if rest, ok := strings.CutPrefix(key, "attributes."); ok {
		name = rest
	} else if rest, ok := strings.CutPrefix(key, "attr."); ok {
		name = rest
	}
	path := strings.Split(name, ".")
	if len(path) > 8 {
		return refField{}, refRejected("%s: too deep", key)
	}
	for _, p := range path {
		if p == "" || len(p) > 128 || !utf8.ValidString(p) || strings.ContainsAny(p, "\"\\$") {
			return refField{}, refRejected("%s: bad attribute name", key)
		}
	}
	return refField{class: refCustom, get: func(c *refConv) (any, bool) {
		var cur any = c.attrs
		for _, p := range path {
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = obj[p]; !ok {
				return nil, false
			}
		}
		return cur, true
	}}, nil
}

func refIsDate(m map[string]any) (string, bool) {
	iso, ok := m["iso"].(string)
	return iso, ok && m["__type"] == "Date" && len(m) == 2
}

// refScalar normalises one query value: numbers become float64, dates (on
// time fields) milliseconds. Arrays and other objects are rejected.
func refScalar(f refField, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string, bool:
		if f.class == refTimeMs {
			return nil, refRejected("times are numbers")
		}
		return x, nil
	case json.Number:
		n, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(n, 0) {
			return nil, refRejected("bad number %s", x)
		}
		return n, nil
	case map[string]any:
		if iso, ok := refIsDate(x); ok && f.class == refTimeMs {
			t, err := time.Parse(time.RFC3339Nano, iso)
			if err != nil {
				return nil, refRejected("bad date")
			}
			return float64(t.UnixMilli()), nil
		}
	}
	return nil, refRejected("not a scalar: %v", v)
}

func refScalars(f refField, v any) ([]any, error) {
	list, ok := v.([]any)
	if !ok || len(list) > 1000 {
		return nil, refRejected("not a list")
	}
	out := make([]any, len(list))
	for i, it := range list {
		s, err := refScalar(f, it)
		if err != nil {
			return nil, err
		}
		if f.class == refMemberSet {
			if _, ok := s.(string); !ok {
				return nil, refRejected("members are strings")
			}
		}
		out[i] = s
	}
	return out, nil
}

func refCondition(f refField, val any) (refPred, error) {
	ops, isObj := val.(map[string]any)
	if !isObj {
		return refOp(f, "$eq", val, nil)
	}
	if _, ok := refIsDate(ops); ok && f.class == refTimeMs {
		return refOp(f, "$eq", val, nil)
	}
	if len(ops) == 0 {
		return nil, refRejected("empty object")
	}
	for k := range ops {
		if !strings.HasPrefix(k, "$") {
			return nil, refRejected("object value")
		}
	}
	var preds []refPred
	for op, arg := range ops {
		if op == "$options" {
			if _, ok := ops["$regex"]; !ok {
				return nil, refRejected("$options without $regex")
			}
			continue
		}
		p, err := refOp(f, op, arg, ops["$options"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		preds = append(preds, p)
	}
	return refAll(preds), nil
}

func refOp(f refField, op string, arg, options any) (refPred, error) {
	if f.class == refFlag {
		switch op {
		case "$eq", "$ne", "$exists":
			if _, ok := arg.(bool); !ok {
				return nil, refRejected("tr and sys are booleans")
			}
		default:
			return nil, refRejected("%s on tr or sys", op)
		}
	}
	if f.class == refMemberSet {
		switch op {
		case "$eq", "$ne", "$in", "$nin", "$all", "$exists", "$regex":
		default:
			return nil, refRejected("%s on members", op)
		}
	}
	not := func(p refPred) refPred { return func(c *refConv) bool { return !p(c) } }
	switch op {
	case "$eq", "$ne":
		var want any
		if list, ok := arg.([]any); ok {
			if f.class != refMemberSet && f.class != refCustom {
				return nil, refRejected("an array on a scalar field")
			}
			vals, err := refScalars(f, list)
			if err != nil {
				return nil, err
			}
			want = vals
		} else {
			s, err := refScalar(f, arg)
			if err != nil {
				return nil, err
			}
			if _, ok := s.(string); f.class == refMemberSet && !ok {
				return nil, refRejected("members are strings")
			}
			want = s
		}
		eq := func(c *refConv) bool { v, ok := f.get(c); return refEquals(f, v, ok, want) }
		if op == "$ne" {
			return not(eq), nil
		}
		return eq, nil
	case "$gt", "$gte", "$lt", "$lte":
		s, err := refScalar(f, arg)
		if err != nil {
			return nil, err
		}
		switch s.(type) {
		case nil, bool:
			return nil, refRejected("order comparisons take a number or a string")
		}
		return func(c *refConv) bool {
			v, ok := f.get(c)
			if !ok {
				return false
			}
			if arr, isArr := v.([]any); isArr {
				return slices.ContainsFunc(arr, func(e any) bool { return refOrdered(op, e, s) })
			}
			return refOrdered(op, v, s)
		}, nil
	case "$in", "$nin", "$all":
		vals, err := refScalars(f, arg)
		if err != nil {
			return nil, err
		}
		in := func(c *refConv) bool {
			v, ok := f.get(c)
			if op == "$all" {
				if len(vals) == 0 {
					return false
				}
				for _, w := range vals {
					if !refEquals(f, v, ok, w) {
						return false
					}
				}
				return true
			}
			for _, w := range vals {
				if refEquals(f, v, ok, w) {
					return true
				}
			}
			return false
		}
		if op == "$nin" {
			return not(in), nil
		}
		return in, nil
	case "$exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, refRejected("$exists takes a boolean")
		}
		return func(c *refConv) bool { _, present := f.get(c); return present == b }, nil
	case "$regex":
		pat, ok := arg.(string)
		if !ok || len(pat) > MaxRegexLen {
			return nil, refRejected("bad pattern")
		}
		flags := ""
		if options != nil {
			o, ok := options.(string)
			if !ok || strings.Trim(o, "ims") != "" {
				return nil, refRejected("bad $options")
			}
			flags = o
		}
		if flags != "" {
			pat = "(?" + flags + ")" + pat
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, err
		}
		matches := func(v any) bool { s, ok := v.(string); return ok && re.MatchString(s) }
		return func(c *refConv) bool {
			v, ok := f.get(c)
			if !ok {
				return false
			}
			if arr, isArr := v.([]any); isArr {
				return slices.ContainsFunc(arr, matches)
			}
			return matches(v)
		}, nil
	}
	return nil, refRejected("unknown operator %s", op)
}

// refEquals is MongoDB's equality match of a field value (v, present) with a
// query value want (a normalised scalar, or a list of them).
func refEquals(f refField, v any, present bool, want any) bool {
	if want == nil {
		if !present || v == nil {
			return true
		}
		arr, ok := v.([]any)
		return ok && slices.Contains(arr, nil)
	}
	if !present {
		return false
	}
	if wl, ok := want.([]any); ok && f.class == refMemberSet {
		set := map[string]bool{}
		for _, m := range v.([]any) {
			set[m.(string)] = true
		}
		wset := map[string]bool{}
		for _, w := range wl {
			wset[w.(string)] = true
		}
		if len(set) != len(wset) {
			return false
		}
		for w := range wset {
			if !set[w] {
				return false
			}
		}
		return true
	}
	if arr, ok := v.([]any); ok {
		if refSame(arr, want) {
			return true
		}
		return slices.ContainsFunc(arr, func(e any) bool { return refSame(e, want) })
	}
	return refSame(v, want)
}

// refSame is equality of two values of the same type; values of different
// types are never equal (numbers are all one type).
func refSame(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !refSame(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false // objects: queries cannot hold them
}

// refOrdered compares a value with a number or a string, within its type.
func refOrdered(op string, v, q any) bool {
	var c int
	switch x := v.(type) {
	case float64:
		y, ok := q.(float64)
		if !ok {
			return false
		}
		c = cmpFloat(x, y)
	case string:
		y, ok := q.(string)
		if !ok {
			return false
		}
		c = strings.Compare(x, y)
	default:
		return false
	}
	switch op {
	case "$gt":
		return c > 0
	case "$gte":
		return c >= 0
	case "$lt":
		return c < 0
	}
	return c <= 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// Random data.

var (
	refNames     = []string{"cheese club", "Cheese club", "cats", "", "1", "5", "10", "true", "zeta", "Ünïcode", "<b>&amp;", "Tom"}
	refQueryNums = []string{"0", "1", "2", "3", "5", "7", "10", "-1", "-3", "1.5", "2.0", "3.0", "2.5", "1e1", "0.5", "-0", "100", "3.25", "1e21", "1E+21", "-1.5"}
)

func randConvs(r *rand.Rand, n int) []*refConv {
	convs := make([]*refConv, 0, n)
	for i := 0; i < n; i++ {
		c := &refConv{}
		c.Kind, c.ID = attrgen.Conversation(r, i)
		c.Name = attrgen.Pick(r, refNames)
		c.Creator = attrgen.Pick(r, attrgen.Clients)
		if c.Kind == "system" || r.Intn(15) == 0 {
			c.Creator = ""
		}
		if c.Kind != "chatroom" {
			for _, m := range attrgen.Clients {
				if r.Intn(3) == 0 {
					c.Members = append(c.Members, m)
					// Some members muted it: chosen by a hash, so that the
					// random draws (and so every seed's data and queries
					// before mutedMembers) stay as they were.
					h := fnv.New32a()
					h.Write([]byte(c.ID + "/" + m))
					if h.Sum32()%3 == 0 {
						c.Muted = append(c.Muted, m)
					}
				}
			}
		}
		c.CreatedAt = 1000 + int64(r.Intn(100))*10
		c.UpdatedAt = c.CreatedAt + int64(r.Intn(3))*10
		if r.Intn(10) < 7 {
			lm := 1000 + int64(r.Intn(100))*10
			c.LastMessageAt = &lm
		}
		attrs := map[string]any{}
		for _, k := range attrgen.AttrKeys {
			if r.Intn(5) < 3 {
				attrs[k] = attrgen.Value(r, 0)
			}
		}
		c.AttrJSON = attrgen.Marshal(attrs)
		dec := json.NewDecoder(strings.NewReader(c.AttrJSON))
		if err := dec.Decode(&c.attrs); err != nil {
			panic(err)
		}
		convs = append(convs, c)
	}
	return convs
}

// ---------------------------------------------------------------------------
// Random queries, as JSON values (numbers as json.Number, to control their
// text).

type queryGen struct {
	r     *rand.Rand
	convs []*refConv
}

var refBuiltinKeys = []string{"id", "objectId", "name", "kind", "creator", "c", "members", "m", "mutedMembers", "mu", "tr", "sys", "lastMessageAt", "lm", "createdAt", "updatedAt"}

func (g *queryGen) fieldKey() string {
	r := g.r
	if r.Intn(150) == 0 {
		return attrgen.Pick(r, []string{"a..b", "attr.", "x$y", `q"uote`, "attributes..x", "$near"})
	}
	if r.Intn(10) < 4 {
		return attrgen.Pick(r, refBuiltinKeys)
	}
	name := attrgen.Pick(r, attrgen.AttrKeys)
	switch r.Intn(8) {
	case 0:
		name = "nested." + attrgen.Pick(r, []string{"k", "n", "arr", "deep", "0", "deep.k", "deep.arr", "nope"})
	case 1:
		name = attrgen.Pick(r, []string{"obj.k", "obj.deep.n", "tags.0", "topic.x", "nope", "level.n"})
	}
	_, builtin := builtinFieldNames[name]
	switch n := r.Intn(3); {
	case n == 0 && !builtin && !strings.HasPrefix(name, "attr"):
		return name
	case n == 1:
		return "attr." + name
	}
	return "attributes." + name
}

var builtinFieldNames = map[string]bool{}

func init() {
	for _, k := range refBuiltinKeys {
		builtinFieldNames[k] = true
	}
}

// sample takes a value from the data for a field: a random conversation's
// value, or an element of it.
func (g *queryGen) sample(key string) (any, bool) {
	f, err := refFieldOf(key, "")
	if err != nil {
		return nil, false
	}
	for range 5 {
		v, ok := f.get(attrgen.Pick(g.r, g.convs))
		if !ok {
			continue
		}
		if arr, isArr := v.([]any); isArr && len(arr) > 0 && g.r.Intn(3) > 0 {
			v = attrgen.Pick(g.r, arr)
		}
		if _, isObj := v.(map[string]any); isObj && g.r.Intn(10) > 0 {
			continue
		}
		if f.class == refTimeMs && g.r.Intn(3) == 0 {
			v = v.(float64) + float64(g.r.Intn(3)-1)
		}
		return g.jsonValue(v), true
	}
	return nil, false
}

// jsonValue turns a decoded value back into a query value; numbers become
// json.Number, sometimes in another spelling of the same value.
func (g *queryGen) jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			s = strconv.FormatInt(int64(x), 10)
			if g.r.Intn(4) == 0 {
				s += ".0"
			}
		}
		return json.Number(s)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = g.jsonValue(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = g.jsonValue(e)
		}
		return out
	}
	return v
}

// value makes an operand for key: from the data about half of the time,
// otherwise of a random type.
func (g *queryGen) value(key string) any {
	r := g.r
	if r.Intn(3) > 0 {
		if v, ok := g.sample(key); ok {
			if r.Intn(12) == 0 {
				// The JSON text of a stored value, as a string: it must not
				// equal the value itself.
				return attrgen.Marshal(v)
			}
			return v
		}
	}
	// Mostly a value of the field's own type; now and then anything, to
	// check type mismatches and rejections.
	wild := r.Intn(8) == 0
	switch key {
	case "lastMessageAt", "lm", "createdAt", "updatedAt":
		if !wild {
			ms := 1000 + int64(r.Intn(100))*10 + int64(r.Intn(3)-1)
			switch r.Intn(6) {
			case 0, 1:
				t := time.UnixMilli(ms).UTC()
				if r.Intn(3) == 0 {
					t = t.Add(time.Duration(r.Intn(1000)) * time.Microsecond)
				}
				return map[string]any{"__type": "Date", "iso": t.Format(time.RFC3339Nano)}
			case 2:
				return json.Number(strconv.FormatInt(ms, 10) + ".5")
			case 3:
				if r.Intn(4) == 0 {
					return nil
				}
			}
			return json.Number(strconv.FormatInt(ms, 10))
		}
	case "members", "m", "mutedMembers", "mu", "creator", "c":
		if !wild {
			return attrgen.Pick(r, attrgen.Clients)
		}
	case "tr", "sys":
		if !wild {
			return r.Intn(2) == 0
		}
	case "id", "objectId":
		if !wild {
			return attrgen.Pick(r, g.convs).ID
		}
	case "kind":
		if !wild {
			return attrgen.Pick(r, []string{"normal", "chatroom", "system", "temporary", "Normal"})
		}
	case "name":
		if !wild {
			return attrgen.Pick(r, refNames)
		}
	}
	switch n := r.Intn(20); {
	case n < 7:
		return attrgen.Pick(r, append(attrgen.Strings, attrgen.Clients...))
	case n < 14:
		return json.Number(attrgen.Pick(r, refQueryNums))
	case n < 17:
		return r.Intn(2) == 0
	case n < 19 || !wild:
		return nil
	case n < 20 && r.Intn(2) == 0:
		return g.list(key, 1+r.Intn(3))
	}
	return map[string]any{"k": "v"}
}

func (g *queryGen) list(key string, n int) []any {
	out := make([]any, n)
	for i := range out {
		for {
			out[i] = g.value(key)
			if _, isArr := out[i].([]any); !isArr {
				break
			}
		}
	}
	return out
}

var refPatterns = []string{"^c", "e", "^$", "^[0-9]+$", "cheese|mice", "É", "é", "<", "^T", "m$", ".", "^a b$", "(", "[0-9]", "^z"}

func (g *queryGen) condition(key string) any {
	r := g.r
	if r.Intn(10) < 3 {
		v := g.value(key)
		if r.Intn(4) == 0 {
			if arr, ok := g.sampleArray(key); ok {
				v = arr
			}
		}
		return v
	}
	ops := map[string]any{}
	for range 1 + r.Intn(2)*r.Intn(2) {
		choices := []string{"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$all", "$exists", "$regex", "$eq", "$ne", "$in", "$nin"}
		if r.Intn(10) > 0 {
			switch key {
			case "tr", "sys":
				choices = []string{"$eq", "$ne", "$exists"}
			case "m", "members", "mu", "mutedMembers":
				choices = []string{"$eq", "$ne", "$in", "$nin", "$all", "$exists", "$regex"}
			}
		}
		switch op := attrgen.Pick(r, choices); op {
		case "$eq", "$ne":
			v := g.value(key)
			if r.Intn(4) == 0 {
				if arr, ok := g.sampleArray(key); ok {
					v = arr
				}
			}
			ops[op] = v
		case "$in", "$nin", "$all":
			if r.Intn(3) == 0 {
				if arr, ok := g.sampleArray(key); ok {
					ops[op] = arr
					break
				}
			}
			n := 1 + r.Intn(4)
			if r.Intn(12) == 0 {
				n = 0
			}
			ops[op] = g.list(key, n)
		case "$exists":
			if r.Intn(30) == 0 {
				ops[op] = json.Number("1")
			} else {
				ops[op] = r.Intn(2) == 0
			}
		case "$regex":
			ops[op] = attrgen.Pick(r, refPatterns)
			if r.Intn(20) == 0 {
				ops[op] = json.Number("1")
			}
			switch r.Intn(8) {
			case 0, 1, 2:
				ops["$options"] = "i"
			case 3:
				ops["$options"] = attrgen.Pick(r, []string{"", "m", "is", "g", "x"})
			}
		default: // $gt $gte $lt $lte: mostly numbers or strings
		ordered:
			for range 3 {
				ops[op] = g.value(key)
				switch ops[op].(type) {
				case string, json.Number:
					break ordered
				}
			}
		}
	}
	if r.Intn(200) == 0 {
		ops["$options"] = "i"
	}
	return ops
}

// sampleArray takes a whole array from the data for key, sometimes shuffled
// or cut.
func (g *queryGen) sampleArray(key string) ([]any, bool) {
	f, err := refFieldOf(key, "")
	if err != nil {
		return nil, false
	}
	for range 5 {
		v, ok := f.get(attrgen.Pick(g.r, g.convs))
		arr, isArr := v.([]any)
		if !ok || !isArr {
			continue
		}
		out := g.jsonValue(arr).([]any)
		switch g.r.Intn(4) {
		case 0:
			g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		case 1:
			if len(out) > 0 {
				out = out[:g.r.Intn(len(out))]
			}
		}
		return out, true
	}
	return nil, false
}

func (g *queryGen) object(depth int) map[string]any {
	r := g.r
	obj := map[string]any{}
	n := 1
	if r.Intn(5) < 2 {
		n = 2 + r.Intn(2)
	}
	if depth == 1 && r.Intn(30) == 0 {
		n = 0
	}
	for range n {
		if depth < 3 && r.Intn(4) == 0 {
			op := attrgen.Pick(r, []string{"$or", "$or", "$and"})
			items := make([]any, 1+r.Intn(3))
			for i := range items {
				items[i] = g.object(depth + 1)
			}
			obj[op] = items
			continue
		}
		key := g.fieldKey()
		obj[key] = g.condition(key)
	}
	return obj
}

// ---------------------------------------------------------------------------
// The comparison.

type whereOutcome struct {
	viewer string   // "": the master key
	ids    []string // sorted
	err    error
	sql    string
	refErr error
	refIDs []string
}

func (o whereOutcome) agree() bool {
	if (o.err != nil) != (o.refErr != nil) {
		return false
	}
	return o.err != nil || slices.Equal(o.ids, o.refIDs)
}

func whereBoth(t *testing.T, db *store.DB, convs []*refConv, raw []byte) whereOutcome {
	t.Helper()
	return whereBothFor(t, db, convs, raw, "")
}

// whereBothFor is whereBoth as the client viewer sees conversations.
func whereBothFor(t *testing.T, db *store.DB, convs []*refConv, raw []byte, viewer string) whereOutcome {
	t.Helper()
	o := whereOutcome{viewer: viewer}
	pred, err := refCompileFor(raw, viewer)
	o.refErr = err
	if err == nil {
		o.refIDs = []string{}
		for _, c := range convs {
			if c.Kind != "temporary" && pred(c) {
				o.refIDs = append(o.refIDs, c.ID)
			}
		}
		slices.Sort(o.refIDs)
	}
	w, err := CompileWhereFor(raw, viewer)
	if err != nil {
		if _, ok := err.(*QueryError); !ok {
			t.Fatalf("where %s: not a QueryError: %v", raw, err)
		}
		o.err = err
		return o
	}
	o.sql = w.SQL
	order, oargs, err := CompileSort("id")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := QueryConversations(context.Background(), db.R(), ConversationQuery{Where: w, Order: order, OrderArgs: oargs, Limit: 1 << 30})
	if err != nil {
		t.Fatalf("where %s (viewer %q): SQL failed: %v\n%s", raw, viewer, err, w.SQL)
	}
	o.ids = []string{}
	for _, r := range rows {
		o.ids = append(o.ids, r.ID)
	}
	slices.Sort(o.ids) // the SQL order is SQLite's collation; compare as sets
	return o
}

// shrinkSteps lists the queries one step smaller than v: a key, an operator
// or a list item less, or a part shrunk.
func shrinkSteps(v any) []any {
	var out []any
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			y := make(map[string]any, len(x))
			for k2, v2 := range x {
				if k2 != k {
					y[k2] = v2
				}
			}
			out = append(out, y)
		}
		// An $or or $and of one item: the item in its place.
		for _, k := range keys {
			list, ok := x[k].([]any)
			if k != "$or" && k != "$and" || !ok || len(list) != 1 {
				continue
			}
			item, ok := list[0].(map[string]any)
			if !ok {
				continue
			}
			y := make(map[string]any, len(x)+len(item))
			for k2, v2 := range x {
				if k2 != k {
					y[k2] = v2
				}
			}
			merged := true
			for k2, v2 := range item {
				if _, dup := y[k2]; dup {
					merged = false
				}
				y[k2] = v2
			}
			if merged {
				out = append(out, y)
			}
		}
		for _, k := range keys {
			for _, s := range shrinkSteps(x[k]) {
				y := make(map[string]any, len(x))
				for k2, v2 := range x {
					y[k2] = v2
				}
				y[k] = s
				out = append(out, y)
			}
		}
	case []any:
		for i := range x {
			out = append(out, slices.Delete(slices.Clone(x), i, i+1))
		}
		for i := range x {
			for _, s := range shrinkSteps(x[i]) {
				y := slices.Clone(x)
				y[i] = s
				out = append(out, y)
			}
		}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// shrink reduces a disagreeing query to a smaller one that still disagrees.
func shrink(t *testing.T, db *store.DB, convs []*refConv, q any, viewer string) any {
	for budget := 200; budget > 0; {
		smaller := false
		for _, s := range shrinkSteps(q) {
			budget--
			if !whereBothFor(t, db, convs, mustJSON(s), viewer).agree() {
				q, smaller = s, true
				break
			}
			if budget <= 0 {
				break
			}
		}
		if !smaller {
			break
		}
	}
	return q
}

func describeDisagreement(convs []*refConv, raw []byte, o whereOutcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "where %s\n", raw)
	if o.viewer != "" {
		fmt.Fprintf(&b, "  as seen by %s\n", o.viewer)
	}
	switch {
	case o.err != nil && o.refErr == nil:
		fmt.Fprintf(&b, "  compiler rejects it (%v); the reference selects %d conversations\n", o.err, len(o.refIDs))
		return b.String()
	case o.err == nil && o.refErr != nil:
		fmt.Fprintf(&b, "  the reference rejects it (%v); the compiler accepts it\n  SQL %s\n", o.refErr, o.sql)
		return b.String()
	}
	fmt.Fprintf(&b, "  SQL %s\n", o.sql)
	byID := map[string]*refConv{}
	for _, c := range convs {
		byID[c.ID] = c
	}
	show := func(what string, ids []string) {
		for i, id := range ids {
			if i == 4 {
				fmt.Fprintf(&b, "  ... %d more\n", len(ids)-i)
				break
			}
			c := byID[id]
			fmt.Fprintf(&b, "  %s %s kind=%s name=%q creator=%q members=%q muted=%q lm=%v attrs=%s\n",
				what, id, c.Kind, c.Name, c.Creator, c.Members, c.Muted, ptrVal(c.LastMessageAt), c.AttrJSON)
		}
	}
	show("only SQL:", setMinus(o.ids, o.refIDs))
	show("only reference:", setMinus(o.refIDs, o.ids))
	return b.String()
}

func ptrVal(p *int64) any {
	if p == nil {
		return "missing"
	}
	return *p
}

func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// refDB stores the conversations in a new database.
func refDB(tb testing.TB, convs []*refConv) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "ref.db"), store.Options{Synchronous: "normal"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		for _, c := range convs {
			row := &store.Conversation{ID: c.ID, Kind: c.Kind, Name: c.Name, Creator: c.Creator, Attributes: c.AttrJSON,
				CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
			if err := tx.InsertConversation(row, c.Members); err != nil {
				return err
			}
			for _, m := range c.Muted {
				if _, err := tx.SetMuted(c.ID, m, true); err != nil {
					return err
				}
			}
			if _, err := tx.Exec("UPDATE conversations SET last_message_at = ? WHERE id = ?", c.LastMessageAt, c.ID); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestWhereMatchesReference(t *testing.T) {
	seed := whereSeed(t)
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	r := rand.New(rand.NewSource(seed))
	queries := 2500
	if s := os.Getenv("PARLEY_WHERE_QUERIES"); s != "" {
		queries, _ = strconv.Atoi(s)
	} else if testing.Short() {
		queries = 500
	}

	convs := randConvs(r, 250)
	db := refDB(t, convs)

	g := &queryGen{r: r, convs: convs}
	var rejected, empty, all, disagreements int
	listed := 0
	for _, c := range convs {
		if c.Kind != "temporary" {
			listed++
		}
	}
	viewers := append([]string{"Nobody"}, attrgen.Clients...)
	var viewed int
	for i := 0; i < queries; i++ {
		q := g.object(1)
		raw := mustJSON(q)
		o := whereBoth(t, db, convs, raw)
		// The same query as a client sees conversations, when it has a
		// condition on members or muted members (the only ones a viewer
		// changes), and now and then otherwise.
		if o.agree() && (bytes.Contains(raw, []byte(`"m"`)) || bytes.Contains(raw, []byte(`"members"`)) ||
			bytes.Contains(raw, []byte(`"mu"`)) || bytes.Contains(raw, []byte(`"mutedMembers"`)) || i%10 == 0) {
			o = whereBothFor(t, db, convs, raw, attrgen.Pick(r, viewers))
			viewed++
		}
		switch {
		case !o.agree():
			disagreements++
			if disagreements <= 10 {
				small := mustJSON(shrink(t, db, convs, q, o.viewer))
				t.Errorf("query %d disagrees with the reference; smallest disagreeing form:\n%s(original: %s)",
					i, describeDisagreement(convs, small, whereBothFor(t, db, convs, small, o.viewer)), raw)
			}
		case o.err != nil:
			rejected++
			if os.Getenv("PARLEY_WHERE_DEBUG") != "" {
				t.Logf("rejected: %v", o.err)
			}
		case len(o.ids) == 0:
			empty++
			if os.Getenv("PARLEY_WHERE_DEBUG") != "" {
				t.Logf("empty: %s", raw)
			}
		case len(o.ids) == listed:
			all++
		}
	}
	t.Logf("%d queries (%d also as a client sees them): %d rejected by both, %d selecting nothing, %d selecting everything, %d disagreeing",
		queries, viewed, rejected, empty, all, disagreements)
	if rejected+empty+all > queries*3/4 {
		t.Errorf("too few queries select a proper subset: the generator needs tuning")
	}
}
