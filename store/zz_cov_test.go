package store

import (
	"math/rand"
	"strings"
	"testing"
)

func TestZZCoverage(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	convs := randConvs(r, 250)
	g := &queryGen{r: r, convs: convs}
	var n, withLookup int
	counts := map[string]int{}
	for i := 0; i < 20000; i++ {
		raw := mustJSON(g.object(1))
		w, err := CompileWhere(raw)
		if err != nil {
			continue
		}
		n++
		if w.scanSQL != "" {
			withLookup++
			for _, k := range []string{"GROUP BY", "UNION ALL", "value >", "value <", "parley_regexp(?, value)", "value >= ? AND value < ?", "instr(value", "WHERE key = ?)", "type IN ('true'", "type = 'text' AND value IN", " OR c.id IN"} {
				if strings.Contains(w.SQL, k) {
					counts[k]++
				}
			}
		}
	}
	t.Logf("%d compiled, %d with lookups: %v", n, withLookup, counts)
}
