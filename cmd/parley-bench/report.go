package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// Report is what a run prints: the parameters, the figures in the order
// they were added, and the targets of the issues with met or missed. The same
// data gives the table and the closing JSON line.
type Report struct {
	Scenario string
	params   []kv
	metrics  []metric
	targets  []target
	notes    []string
}

type kv struct {
	key string
	val any
}

type metric struct {
	key, label, unit string
	val              float64
}

type target struct {
	name  string
	check func(*Report) (met, known bool)
}

// Param records a parameter of the run.
// A parameter set twice keeps the latest value at its first place.
func (r *Report) Param(key string, val any) {
	for i := range r.params {
		if r.params[i].key == key {
			r.params[i].val = val
			return
		}
	}
	r.params = append(r.params, kv{key, val})
}

// Metric records a figure; key is its JSON name, label and unit are for the
// table (an empty label: JSON only). A figure added twice keeps the latest value at its first place.
func (r *Report) Metric(key, label string, val float64, unit string) {
	for i := range r.metrics {
		if r.metrics[i].key == key {
			r.metrics[i].val = val
			return
		}
	}
	r.metrics = append(r.metrics, metric{key, label, unit, val})
}

// Lookup returns a recorded figure.
func (r *Report) Lookup(key string) (float64, bool) {
	for _, m := range r.metrics {
		if m.key == key {
			return m.val, true
		}
	}
	return 0, false
}

// Target records a target of an issue: met says, at print time, whether the
// figures meet it (known false: a figure it needs is missing, e.g. the
// ratio when no baseline ran).
func (r *Report) Target(name string, met func(*Report) (met, known bool)) {
	r.targets = append(r.targets, target{name, met})
}

// TargetFigure is a target on one figure: at least (or, with atMost, at
// most) limit.
func (r *Report) TargetFigure(name, key string, limit float64, atMost bool) {
	r.Target(name, func(r *Report) (bool, bool) {
		v, ok := r.Lookup(key)
		if !ok || math.IsNaN(v) {
			return false, false
		}
		if atMost {
			return v <= limit, true
		}
		return v >= limit, true
	})
}

type checkedTarget struct {
	name string
	met  bool
}

func (r *Report) checkedTargets() []checkedTarget {
	var out []checkedTarget
	for _, t := range r.targets {
		if met, known := t.check(r); known {
			out = append(out, checkedTarget{t.name, met})
		}
	}
	return out
}

// Note adds a line printed under the table.
func (r *Report) Note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// WriteTable prints the readable form.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s\n", r.Scenario)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range r.params {
		fmt.Fprintf(tw, "  %s\t%v\n", p.key, p.val)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, m := range r.metrics {
		if m.label == "" {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t %s\t\n", m.label, formatFigure(m.val), m.unit)
	}
	tw.Flush()
	if ts := r.checkedTargets(); len(ts) > 0 {
		fmt.Fprintln(w, "\ntargets")
		for _, t := range ts {
			mark := "MISSED"
			if t.met {
				mark = "met"
			}
			fmt.Fprintf(w, "  %-7s %s\n", mark, t.name)
		}
	}
	for _, n := range r.notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w)
}

// JSON is the closing line: {"scenario", "params", figures..., "targets"}.
func (r *Report) JSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"scenario":`)
	writeJSON(&b, r.Scenario)
	b.WriteString(`,"params":{`)
	for i, p := range r.params {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, p.key)
		b.WriteByte(':')
		writeJSON(&b, p.val)
	}
	b.WriteByte('}')
	for _, m := range r.metrics {
		b.WriteByte(',')
		writeJSON(&b, m.key)
		b.WriteByte(':')
		if math.IsNaN(m.val) || math.IsInf(m.val, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(strconv.FormatFloat(round3(m.val), 'f', -1, 64))
		}
	}
	if ts := r.checkedTargets(); len(ts) > 0 {
		b.WriteString(`,"targets":{`)
		for i, t := range ts {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(&b, t.name)
			b.WriteByte(':')
			writeJSON(&b, t.met)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	if d, ok := v.(fmt.Stringer); ok {
		v = d.String()
	}
	enc, err := json.Marshal(v)
	if err != nil {
		enc, _ = json.Marshal(fmt.Sprint(v))
	}
	b.Write(enc)
}

// round3 keeps three decimals below 1000 and whole numbers above.
func round3(v float64) float64 {
	if math.Abs(v) >= 1000 {
		return math.Round(v)
	}
	return math.Round(v*1000) / 1000
}

func formatFigure(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 1000 || v == math.Trunc(v):
		return groupThousands(int64(math.Round(v)))
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
