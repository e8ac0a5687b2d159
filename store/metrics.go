package store

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/promreg"
)

// metrics are a database's collectors, registered with Options.Registerer.
type metrics struct {
	batchSize prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		batchSize: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_store_commit_batch_size",
			Help:    "Writes committed together in one transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		})),
	}
}
