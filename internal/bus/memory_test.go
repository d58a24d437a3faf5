package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

func TestMemoryBoundsAlertsAndDrainsOnClose(t *testing.T) {
	m := NewMemory(3, 1<<30, nil)
	ctx := context.Background()
	if err := m.Publish(ctx, make([]quell.Alert, 1)); !errors.Is(err, ErrStarting) {
		t.Fatalf("publish before start: %v, want ErrStarting", err)
	}
	m.Start(0)
	if err := m.Publish(ctx, make([]quell.Alert, 2)); err != nil {
		t.Fatal(err)
	}
	if n, b := m.Queued(); n != 2 || b != batchSize(make([]quell.Alert, 2)) {
		t.Fatalf("queued %d alerts of %d bytes, want 2 of %d", n, b, batchSize(make([]quell.Alert, 2)))
	}
	// 2 + 2 > 3: the second batch waits for room.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := m.Publish(short, make([]quell.Alert, 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish beyond the bound: %v, want it to wait until the deadline", err)
	}
	got := make(chan int, 10)
	done := make(chan error, 1)
	go func() {
		done <- m.Subscribe(ctx, func(_ context.Context, e Entry) error { got <- len(e.Alerts); return nil })
	}()
	if err := m.Publish(ctx, make([]quell.Alert, 2)); err != nil { // room is made as the first batch is handled
		t.Fatal(err)
	}
	// A batch larger than the bound still goes through once the queue is empty.
	if err := m.Publish(ctx, make([]quell.Alert, 5)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, make([]quell.Alert, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	close(got)
	total := 0
	for n := range got {
		total += n
	}
	if total != 9 {
		t.Fatalf("%d alerts delivered, want all 9 accepted", total)
	}
	if n, b := m.Queued(); n != 0 || b != 0 {
		t.Fatalf("after the drain %d alerts of %d bytes queued, want none", n, b)
	}
}

// TestMemoryStopLeavesTheBacklog: Stop ends Subscribe without handling
// what is queued; the handled position stays at the last entry handled.
func TestMemoryStopLeavesTheBacklog(t *testing.T) {
	log := &countingLog{}
	m := NewMemory(100, 1<<30, log)
	m.Start(0)
	ctx := context.Background()
	for range 5 {
		if err := m.Publish(ctx, make([]quell.Alert, 10)); err != nil {
			t.Fatal(err)
		}
	}
	inProgress, release := make(chan struct{}), make(chan struct{})
	handled := 0
	done := make(chan error, 1)
	go func() {
		done <- m.Subscribe(ctx, func(context.Context, Entry) error {
			handled++
			inProgress <- struct{}{}
			<-release
			return nil
		})
	}()
	m.Close()
	<-inProgress
	left := m.Stop()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if handled != 1 || left != 50 {
		t.Fatalf("handled %d entries, Stop left %d alerts; want the one in progress handled and 50 left (it counted as queued until done)", handled, left)
	}
	m.Checkpoint(func(pos int64) error {
		if pos != 1 {
			t.Errorf("handled position %d after Stop, want 1: the first entry's end", pos)
		}
		return nil
	})
}

// countingLog numbers the entries it is given.
type countingLog struct{ n int64 }

func (l *countingLog) Encode(Entry) *Record          { return &Record{} }
func (l *countingLog) Append(*Record) (int64, error) { l.n++; return l.n, nil }
func (l *countingLog) Sync(int64) error              { return nil }

// TestMemoryBoundsBytes: a few big alerts fill the queue as many small ones
// would; a big batch still goes through once the queue is empty.
func TestMemoryBoundsBytes(t *testing.T) {
	m := NewMemory(100, 10_000, nil)
	m.Start(0)
	ctx := context.Background()
	big := []quell.Alert{{Raw: make([]byte, 6000)}}
	if err := m.Publish(ctx, big); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := m.Publish(short, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish past the byte bound: %v, want it to wait until the deadline", err)
	}
	if err := m.Publish(short, make([]quell.Alert, 2)); err != nil {
		t.Fatalf("small alerts within the byte bound: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Subscribe(ctx, func(context.Context, Entry) error { return nil }) }()
	if err := m.Publish(ctx, []quell.Alert{{Raw: make([]byte, 20_000)}}); err != nil {
		t.Fatalf("a batch over the bound into an emptied queue: %v", err)
	}
	m.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
