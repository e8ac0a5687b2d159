package events

import (
	"math/rand"
	"testing"
)

// A ring behaves as a slice of its entries, whatever the mix of pushes and
// pops, across segment boundaries and after emptying.
func TestRingIsAQueue(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var q ring
	var model []entry
	seq := uint64(0)
	for step := range 20000 {
		if r.Intn(100) < 55 || len(model) == 0 {
			seq += 1 + uint64(r.Intn(3))
			e := entry{seq: seq, at: int64(step), ref: uint32(step)}
			q.push(e)
			model = append(model, e)
		} else {
			if got := q.pop(); got != model[0] {
				t.Fatalf("step %d: pop = %+v, want %+v", step, got, model[0])
			}
			model = model[1:]
		}
		if q.len() != len(model) {
			t.Fatalf("step %d: len = %d, want %d", step, q.len(), len(model))
		}
		if len(model) == 0 {
			continue
		}
		if *q.front() != model[0] {
			t.Fatalf("step %d: front = %+v, want %+v", step, *q.front(), model[0])
		}
		i := r.Intn(len(model))
		if *q.at(i) != model[i] {
			t.Fatalf("step %d: at(%d) = %+v, want %+v", step, i, *q.at(i), model[i])
		}
		probe := model[i].seq - uint64(r.Intn(2))
		want := 0
		for want < len(model) && model[want].seq <= probe {
			want++
		}
		if got := q.after(probe); got != want {
			t.Fatalf("step %d: after(%d) = %d, want %d", step, probe, got, want)
		}
	}
}

// Clearing a ring releases the reference of every entry it holds.
func TestRingClearReleases(t *testing.T) {
	tab := &eventTable{}
	var q ring
	for i := range 100 {
		ref := tab.hold(ev(i))
		q.push(entry{seq: uint64(i + 1), ref: ref})
	}
	q.pop() // the popper releases what it pops; here nobody does
	if got := tab.held(); got != 100 {
		t.Fatalf("%d slots held, want 100", got)
	}
	q.clear(tab)
	if got := tab.held(); got != 1 || q.len() != 0 {
		t.Fatalf("after clear: %d slots held (want 1, the popped one), len %d", got, q.len())
	}
}
