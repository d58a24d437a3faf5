package budget

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestAdmitAndRelease(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
	b := New(1 << 40)
	if !b.Admit(1000) || !b.Admit(1000) || b.Pending() != 2*workFactor*1000 {
		t.Fatalf("a roomy budget refused, or pending is %d", b.Pending())
	}
	b.Release(1000)
	b.Release(1000)
	if b.Pending() != 0 || b.Full() {
		t.Fatalf("after release: pending %d, full %v", b.Pending(), b.Full())
	}
	// A budget smaller than what this process already holds is full: it
	// admits nothing.
	runtime.GC() // what is live is known after a collection
	small := New(1 << 10)
	if small.Admit(1) || !small.Full() {
		t.Fatalf("a 1 KiB budget admitted, or is not full (live %d)", small.Live())
	}
	if got := debug.SetMemoryLimit(-1); got != runtimeLimit(small.Limit()) {
		t.Fatalf("runtime memory limit %d, want the budget's runtime share", got)
	}
}

// TestSharesFitTheLimit: the shares leave room for bodies and output
// within what may be live.
func TestSharesFitTheLimit(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
	b := New(1 << 30)
	shares := b.StateBytes() + b.QueueBytes() + b.SinkBytes() + b.HistoryBytes() + b.TimelineBytes() + b.RecentBytes()
	if free := b.admit - shares; free < b.Limit()/20 {
		t.Fatalf("the shares (%d bytes) leave %d of the live share of %d", shares, free, b.Limit())
	}
}

func TestDefaultLimit(t *testing.T) {
	if l := DefaultLimit(); l < 32<<20 {
		t.Fatalf("default limit %d bytes", l)
	}
}
