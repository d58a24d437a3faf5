package kafka

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestConcurrentPublishesKeepTheirRecords: Publish recycles the buffers its
// records are encoded in from one call to the next. Concurrent calls, with
// values of every size (some larger than a block), must each deliver
// exactly what they were given.
func TestConcurrentPublishesKeepTheirRecords(t *testing.T) {
	brokers, log := broker(t)
	topic, dead := topics(t, brokers, log, 3)
	pub := publisher(t, brokers, log, topic)

	const senders, calls, perCall = 6, 15, 40
	scopes := []string{"checkout", "payments", "search"}
	var mu sync.Mutex
	var sent []quell.Alert
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for c := range calls {
				alerts := make([]quell.Alert, perCall)
				for i := range alerts {
					n := (s*calls+c)*perCall + i
					alerts[i] = testAlert(scopes[n%len(scopes)], n)
					// From a few bytes to past a block (256 KiB), different in every alert.
					size := []int{3, 900, 20_000, 300_000}[n%4] + n%97
					alerts[i].Annotations["description"] = strings.Repeat(string(rune('a'+n%26)), size)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := pub.Publish(ctx, alerts)
				cancel()
				if err != nil {
					t.Errorf("sender %d, call %d: %v", s, c, err)
					return
				}
				mu.Lock()
				sent = append(sent, alerts...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	receivedAsSent(t, brokers, log, topic, dead, sent)
}
