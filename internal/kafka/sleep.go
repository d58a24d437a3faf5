package kafka

import (
	"context"
	"time"
)

// sleep waits d before a retry, or returns ctx's error once ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
