package main

import (
	"math"
	"math/bits"
	"time"
)

// Hist is a log-linear latency histogram in nanoseconds: exact below 128 ns,
// then 64 buckets per power of two (at most 1.6% relative error). Recording
// is a few instructions and never allocates; each goroutine keeps its own
// and they are merged at the end, so the hot paths share no cache lines.
type Hist struct {
	counts   []uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histLinear  = 2 * histSub      // values below this are their own bucket
	histBuckets = histLinear + (64-histSubBits-1)*histSub
)

func histIndex(v int64) int {
	if v < histLinear {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	return histLinear + (e-1)*histSub + int(v>>e) - histSub
}

// histValue is the middle of bucket i.
func histValue(i int) float64 {
	if i < histLinear {
		return float64(i)
	}
	e := (i-histLinear)/histSub + 1
	lo := int64((i-histLinear)%histSub+histSub) << e
	return float64(lo) + float64(int64(1)<<e)/2
}

// Record adds one latency.
func (h *Hist) Record(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
		h.min = math.MaxInt64
	}
	v := int64(d)
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Merge adds o's records to h.
func (h *Hist) Merge(o *Hist) {
	if o == nil || o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
		h.min = math.MaxInt64
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of records.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the q-quantile (0 < q ≤ 1) in milliseconds; the maximum
// is exact, the others are bucket middles clamped to [min, max].
func (h *Hist) Quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	if q >= 1 {
		return float64(h.max) / 1e6
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := math.Min(math.Max(histValue(i), float64(h.min)), float64(h.max))
			return v / 1e6
		}
	}
	return float64(h.max) / 1e6
}

// MeanMs is the mean in milliseconds.
func (h *Hist) MeanMs() float64 {
	if h.n == 0 {
		return math.NaN()
	}
	return h.sum / float64(h.n) / 1e6
}

// MaxMs is the largest record in milliseconds.
func (h *Hist) MaxMs() float64 { return h.Quantile(1) }
