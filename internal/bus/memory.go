package bus

import (
	"context"
	"errors"
	"sync"

	"github.com/quellhq/quell"
)

// ErrClosed is returned by Publish once the bus no longer accepts alerts.
var ErrClosed = errors.New("bus closed: quell is shutting down, retry against another instance")

// Memory is the in-process bus of the embedded default: a queue bounded by
// the number of alerts it holds, whose fullness pushes back on ingest
// (Publish waits) instead of growing.
type Memory struct {
	ch     chan []quell.Alert
	max    int
	mu     sync.Mutex
	queued int           // alerts published and not yet handled
	freed  chan struct{} // closed (and replaced) whenever room is made
	closed bool
}

// NewMemory returns a bus that holds up to maxAlerts alerts. A single batch
// larger than that is still accepted when the queue is empty.
func NewMemory(maxAlerts int) *Memory {
	return &Memory{ch: make(chan []quell.Alert, maxAlerts), max: maxAlerts, freed: make(chan struct{})}
}

func (m *Memory) Publish(ctx context.Context, alerts []quell.Alert) error {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if m.queued == 0 || m.queued+len(alerts) <= m.max {
			m.queued += len(alerts)
			m.ch <- alerts // never blocks: at most max batches of at least one alert are queued
			m.mu.Unlock()
			return nil
		}
		freed := m.freed
		m.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
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
		err := h(context.Background(), batch)
		m.mu.Lock()
		m.queued -= len(batch)
		close(m.freed)
		m.freed = make(chan struct{})
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
