package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func newCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "promreg_test_total", Help: "A test counter."})
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := Register(reg, newCounter())
	b := Register(reg, newCounter())
	if a != b {
		t.Error("a second equal collector on one registry is not the first")
	}
	c := Register(prometheus.NewRegistry(), newCounter())
	if c == a {
		t.Error("another registry shares the collector")
	}
	if d := Register(nil, newCounter()); d == nil || d == a {
		t.Error("no registerer: not a collector of its own")
	}
	defer func() {
		if recover() == nil {
			t.Error("a different collector of the same name did not panic")
		}
	}()
	Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "promreg_test_total", Help: "Another help."}))
}
