package handlers

import (
	"testing"
	"time"
)

// A limit of N a minute lets a key use its N at once, then one every
// minute/N; each key has its own allowance; Retry-After says when the next
// one is allowed; idle keys are forgotten.
func TestLimiter(t *testing.T) {
	l := newLimiter(limitSends, 6, newRateLimited(nil)) // one every 10 s
	now := time.Unix(1_800_000_000, 0)
	for i := range 6 {
		if err := l.allow("tom", now); err != nil {
			t.Fatalf("event %d of the allowance: %v", i+1, err)
		}
	}
	err := l.allow("tom", now.Add(4*time.Second))
	e, ok := err.(*Error)
	if !ok || e.Code != CodeRateLimited || e.RetryAfter != 6*time.Second {
		t.Fatalf("over the allowance: %#v, want RATE_LIMITED retrying after 6s", err)
	}
	if err := l.allow("jerry", now); err != nil {
		t.Errorf("another key: %v", err)
	}
	if err := l.allow("tom", now.Add(10*time.Second)); err != nil {
		t.Errorf("after a tenth of a minute: %v", err)
	}
	if err := l.allow("tom", now.Add(11*time.Second)); err == nil {
		t.Errorf("a second event after a tenth of a minute was allowed")
	}
	l.allow("mary", now.Add(3*time.Minute)) // sweeps: tom and jerry are full again
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets kept after a sweep, want mary's alone", len(l.buckets))
	}
	var off *limiter
	if newLimiter(limitSends, 0, newRateLimited(nil)) != nil || off.allow("tom", now) != nil {
		t.Error("a limit of 0 is not off")
	}
}

// BenchmarkLimiterAllow is what a limit that is on costs a send: one
// bucket's update under a mutex, against a send's ~50 µs of server CPU.
func BenchmarkLimiterAllow(b *testing.B) {
	l := newLimiter(limitSends, 1<<30, newRateLimited(nil))
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "client" + string(rune('A'+i))
	}
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.allow(keys[i%len(keys)], now)
			i++
		}
	})
}
