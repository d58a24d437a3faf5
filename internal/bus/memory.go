package bus

import (
	"context"
	"errors"
	"sync"

	"github.com/quellhq/quell"
)

// ErrClosed is returned by Publish once the bus no longer accepts alerts.
var ErrClosed = errors.New("bus closed: quell is shutting down, retry against another instance")

// Log keeps accepted batches durable (see package journal): Append returns
// the position after the batch.
type Log interface {
	Append(alerts []quell.Alert) (int64, error)
}

// Memory is the in-process bus of the embedded default: a queue bounded by
// the number of alerts it holds, whose fullness pushes back on ingest
// (Publish waits) instead of growing. With a Log, a batch is accepted only
// once the log holds it.
type Memory struct {
	ch     chan entry
	max    int
	log    Log
	mu     sync.Mutex
	queued int           // alerts published and not yet handled
	freed  chan struct{} // closed (and replaced) whenever room is made
	closed bool

	handling sync.Mutex // held while a batch is handled, so checkpoints see whole batches
	handled  int64      // the log position after the last handled batch
}

type entry struct {
	alerts []quell.Alert
	end    int64 // log position after the batch
}

// NewMemory returns a bus that holds up to maxAlerts alerts (a single batch
// larger than that is still accepted when the queue is empty); log may be nil.
func NewMemory(maxAlerts int, log Log) *Memory {
	return &Memory{ch: make(chan entry, maxAlerts), max: maxAlerts, log: log, freed: make(chan struct{})}
}

func (m *Memory) Publish(ctx context.Context, alerts []quell.Alert) error {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if m.queued == 0 || m.queued+len(alerts) <= m.max {
			e := entry{alerts: alerts}
			if m.log != nil { // under mu: the log's order is the queue's
				var err error
				if e.end, err = m.log.Append(alerts); err != nil {
					m.mu.Unlock()
					return err
				}
			}
			m.queued += len(alerts)
			m.ch <- e // never blocks: at most max batches of at least one alert are queued
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
	for e := range m.ch {
		m.handling.Lock()
		err := h(context.Background(), e.alerts)
		if err == nil {
			m.handled = e.end
		}
		m.handling.Unlock()
		m.mu.Lock()
		m.queued -= len(e.alerts)
		close(m.freed)
		m.freed = make(chan struct{})
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint calls save with the log position after the last handled batch,
// while no batch is being handled: the state save stores covers exactly the
// batches up to that position.
func (m *Memory) Checkpoint(save func(handled int64) error) error {
	m.handling.Lock()
	defer m.handling.Unlock()
	return save(m.handled)
}

// Resume sets the position handled batches count from: where the restored
// state left off.
func (m *Memory) Resume(handled int64) {
	m.handling.Lock()
	defer m.handling.Unlock()
	m.handled = handled
}
