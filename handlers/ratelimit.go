package handlers

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/promreg"
)

// The rate limits (README, "Configuration" and "Limits"), each a setting,
// off at 0.
const (
	limitSends   = "sends"
	limitLogins  = "logins"
	limitHistory = "history"
)

// newRateLimited is the counter of the requests each limit refused,
// registered with reg; every limit's series exists from the start.
func newRateLimited(reg prometheus.Registerer) *prometheus.CounterVec {
	c := promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_rate_limited_total",
		Help: "Requests refused with 429 RATE_LIMITED, by limit (sends, logins, history).",
	}, []string{"limit"}))
	for _, l := range []string{limitSends, limitLogins, limitHistory} {
		c.WithLabelValues(l)
	}
	return c
}

// limiter allows each key perMinute events a minute: a token bucket holding
// a minute's allowance, refilled evenly, so that a client may use its
// allowance in a burst and then goes at the average rate. A nil limiter
// allows everything, at the cost of a nil check.
type limiter struct {
	name    string
	per     float64 // tokens a minute, and the bucket's size
	refused prometheus.Counter

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was right
}

// newLimiter returns the limit called name, perMinute a minute (nil: off),
// which counts what it refuses in refused's series of its name.
func newLimiter(name string, perMinute int, refused *prometheus.CounterVec) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{name: name, per: float64(perMinute), refused: refused.WithLabelValues(name), buckets: map[string]*bucket{}}
}

// allow takes one event of key at now, or refuses it with RATE_LIMITED and
// the time until one will be allowed.
func (l *limiter) allow(key string, now time.Time) error {
	if l == nil {
		return nil
	}
	rate := l.per / float64(time.Minute) // tokens a nanosecond
	l.mu.Lock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now, rate)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.per, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.per, b.tokens+float64(now.Sub(b.at))*rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		l.mu.Unlock()
		return nil
	}
	wait := time.Duration((1 - b.tokens) / rate)
	l.mu.Unlock()
	l.refused.Inc()
	return &Error{Code: CodeRateLimited, RetryAfter: wait,
		Detail: "too many " + l.name + ": at most " + formatRate(l.per) + " a minute; retry later"}
}

// sweep forgets the buckets that have filled up again, which a new bucket
// would equal: memory follows the keys active within the last minute.
func (l *limiter) sweep(now time.Time, rate float64) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))*rate >= l.per {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

func formatRate(v float64) string {
	return strconv.FormatInt(int64(math.Round(v)), 10)
}
