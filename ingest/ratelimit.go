package ingest

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per client. (golang.org/x/time/rate is only an
// indirect dependency of the module; a map of buckets is all that is needed.)
//
// A bucket that has refilled to its burst is the same as a new one, so
// sweeping full buckets loses nothing; the map holds only the clients seen
// within the last burst/rate seconds, however many addresses send.
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // map size that triggers the next sweep
}

type bucket struct {
	tokens float64
	at     time.Time
}

// minSweep is the map size below which sweeping is not worth its time.
const minSweep = 1024

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}, sweepAt: minSweep}
}

// allow takes a token from key's bucket; when there is none it returns how
// long until there will be.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.sweepAt {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled, and sets the next sweep at
// twice the size left, so sweeping costs O(1) per new client.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.buckets))
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as the
// Retry-After header counts.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
