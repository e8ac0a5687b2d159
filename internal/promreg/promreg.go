// Package promreg registers a package's Prometheus collectors with the
// registerer its owner was given, instead of the process-wide default
// registry: each server counts for itself, and a test can give each server a
// registry of its own.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns the collector to use: c, or,
// when reg holds an equal collector already (a second server in the process
// on the same registry, typically the default one), that one, so that both
// count into the series reg serves. A nil reg registers nowhere: c still
// counts, but nothing gathers it. Any other registration error is a
// programming error (two metrics of one name that differ) and panics, as
// promauto does.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
