package clickhouse

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff bounds how a transient write error is retried: up to Attempts
// tries in all, waiting Initial, then twice that each time up to Max, with
// jitter so that many writers do not hammer a recovering server in step.
type Backoff struct {
	Attempts int
	Initial  time.Duration
	Max      time.Duration
}

// DefaultBackoff rides out a server restart (about 10 s in all) without
// holding a batch for long.
var DefaultBackoff = Backoff{Attempts: 6, Initial: 200 * time.Millisecond, Max: 5 * time.Second}

// wait sleeps before retry number n (1-based), or returns ctx's error.
func (b Backoff) wait(ctx context.Context, n int) error {
	d := b.Initial << (n - 1)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
