// Package attrgen draws random conversation attributes for the tests of
// store and store/convquery (the attribute index's migration, the query
// compiler's reference evaluator): one generator, so that both draw the same
// data from the same seed.
package attrgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
)

// The values drawn from.
var (
	Clients  = []string{"Tom", "Jerry", "Mary", "Ann", "Bob", "tom", "Zoë"}
	Strings  = []string{"cheese", "Cheese", "mice", "cats", "", "1", "3", "2.5", "true", "null", "<b>&", "Café", "café", "zeta", "a b", "Tom", "x", "[1]"}
	Numbers  = []float64{-3, -1, 0, 1, 2, 3, 5, 7, 10, 0.5, 1.5, 2.5, -1.5, 3.25, 100, 1e21}
	AttrKeys = []string{"topic", "level", "tags", "vip", "score", "nested", "n", "a b", "ключ", "x-y", "0", "name", "id", "m", "it's", "a[0]", "obj"}
)

// Pick draws one element of s.
func Pick[T any](r *rand.Rand, s []T) T { return s[r.Intn(len(s))] }

// Scalar draws a JSON scalar.
func Scalar(r *rand.Rand) any {
	switch r.Intn(10) {
	case 0, 1, 2, 3:
		return Pick(r, Strings)
	case 4, 5, 6:
		return Pick(r, Numbers)
	case 7, 8:
		return r.Intn(2) == 0
	}
	return nil
}

// Value draws an attribute value: a scalar, an array or (above depth 2
// no more) an object.
func Value(r *rand.Rand, depth int) any {
	switch n := r.Intn(20); {
	case n < 5:
		return Pick(r, Strings)
	case n < 9:
		return Pick(r, Numbers)
	case n < 11:
		return r.Intn(2) == 0
	case n < 12:
		return nil
	case n < 17:
		arr := make([]any, r.Intn(5))
		mixed := r.Intn(4) == 0
		for i := range arr {
			switch {
			case mixed && r.Intn(6) == 0 && depth < 2:
				arr[i] = Value(r, 2) // a nested array or a scalar
			case mixed:
				arr[i] = Scalar(r)
			case r.Intn(2) == 0:
				arr[i] = Pick(r, Strings)
			default:
				arr[i] = Pick(r, Numbers)
			}
		}
		return arr
	}
	if depth >= 2 {
		return Pick(r, Strings)
	}
	obj := map[string]any{}
	for _, k := range []string{"k", "n", "deep", "arr", "0"} {
		if r.Intn(2) == 0 {
			obj[k] = Value(r, depth+1)
		}
	}
	return obj
}

// Marshal encodes attributes as the handlers store them: numbers as
// float64, no HTML escaping.
func Marshal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// Conversation draws the kind of conversation number i and its id:
// mostly normal, some chat rooms, system and temporary ones ("_tmp:" ids).
func Conversation(r *rand.Rand, i int) (kind, id string) {
	id = fmt.Sprintf("c%04d", i)
	switch k := r.Intn(20); {
	case k < 11:
		return "normal", id
	case k < 14:
		return "chatroom", id
	case k < 17:
		return "system", id
	}
	return "temporary", "_tmp:" + id
}
