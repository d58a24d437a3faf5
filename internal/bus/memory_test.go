package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

func TestMemoryBoundsAlertsAndDrainsOnClose(t *testing.T) {
	m := NewMemory(3, nil)
	ctx := context.Background()
	if err := m.Publish(ctx, make([]quell.Alert, 1)); !errors.Is(err, ErrStarting) {
		t.Fatalf("publish before start: %v, want ErrStarting", err)
	}
	m.Start(0)
	if err := m.Publish(ctx, make([]quell.Alert, 2)); err != nil {
		t.Fatal(err)
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
}
