package store

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
	Name:    "parley_store_commit_batch_size",
	Help:    "Writes committed together in one transaction.",
	Buckets: prometheus.ExponentialBuckets(1, 2, 10),
})
