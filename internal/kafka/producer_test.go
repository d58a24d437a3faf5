package kafka

import (
	"context"
	"reflect"
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

	sub, err := NewAlertSubscriber(ConsumerConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "group"), DeadLetterTopic: dead, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	got := subscribe(t, sub, nil).collect(t, len(sent))
	want := map[quell.Fingerprint]quell.Alert{}
	for _, a := range sent {
		want[a.Fingerprint] = a
	}
	for _, a := range got {
		w, ok := want[a.Fingerprint]
		if !ok {
			t.Fatalf("received an alert that was not sent or was received twice: %s", a.Fingerprint)
		}
		delete(want, a.Fingerprint)
		if !reflect.DeepEqual(a, w) {
			t.Fatalf("alert %s changed on the way: labels %v, description %.40q... (%d bytes), want %v, %.40q... (%d bytes)", a.Fingerprint,
				a.Labels, a.Annotations["description"], len(a.Annotations["description"]), w.Labels, w.Annotations["description"], len(w.Annotations["description"]))
		}
	}
}
