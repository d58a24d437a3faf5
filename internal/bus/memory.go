package bus

import (
	"context"
	"errors"
	"sync"

	"github.com/quellhq/quell"
)

// ErrClosed is returned by Publish once the bus no longer accepts alerts.
var ErrClosed = errors.New("bus closed: quell is shutting down, retry against another instance")

// Memory is the in-process bus of the embedded default: a bounded queue whose
// fullness pushes back on ingest (Publish blocks) instead of growing.
type Memory struct {
	ch     chan []quell.Alert
	mu     sync.RWMutex
	closed bool
}

// NewMemory returns a bus that holds up to depth batches.
func NewMemory(depth int) *Memory {
	return &Memory{ch: make(chan []quell.Alert, depth)}
}

func (m *Memory) Publish(ctx context.Context, alerts []quell.Alert) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	select {
	case m.ch <- alerts:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting alerts; Subscribe delivers what is queued, then returns.
func (m *Memory) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.ch)
	}
}

// Subscribe hands every batch to h until the bus is closed and drained. It
// does not stop on ctx: draining what was accepted is the point of shutdown.
func (m *Memory) Subscribe(_ context.Context, h Handler) error {
	for batch := range m.ch {
		if err := h(context.Background(), batch); err != nil {
			return err
		}
	}
	return nil
}
