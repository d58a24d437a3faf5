package bus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quellhq/quell"
)

// ErrClosed is returned by Publish once the bus no longer accepts alerts.
var ErrClosed = errors.New("bus closed: quell is shutting down, retry against another instance")

// ErrStarting is returned by Publish until Start: quell is handling again
// what its journal holds from before it stopped.
var ErrStarting = errors.New("quell is starting and still handling the alerts it accepted before it stopped; retry shortly")

// Entry is what the embedded bus carries and its journal keeps: a batch of
// alerts, a person's feedback, or, with both nil, the correlator's clock
// moving to Tick. The clock and feedback move through the bus so that a
// restart that handles the journal again decides every alert at the same
// time, and with the same corrections, as before.
type Entry struct {
	Alerts   []quell.Alert
	Feedback *quell.Feedback
	Tick     time.Time
}

// IsTick tells a clock entry.
func (e *Entry) IsTick() bool { return e.Alerts == nil && e.Feedback == nil }

// slots is the room an entry takes in the queue: its alerts, or one.
func (e *Entry) slots() int { return max(len(e.Alerts), 1) }

// Log keeps accepted entries durable (see package journal): Encode makes an
// entry's record, Append writes it and returns the position after it, and
// Sync returns once the entries up to pos are as durable as the log's
// setting promises. The bus encodes before it takes its lock and appends
// under it: publishers encode at once, and the log keeps the queue's order.
type Log interface {
	Encode(e Entry) *Record
	Append(r *Record) (int64, error)
	Sync(pos int64) error
}

// Record is an entry encoded for a Log. Append may reuse its bytes: it is
// appended once.
type Record struct{ B []byte }

// Memory is the in-process bus of the embedded default: a queue bounded by
// the number of alerts it holds and their bytes, whose fullness pushes back on ingest
// (Publish waits) instead of growing. With a Log, an entry is queued only
// once the log holds it, and Publish returns once the log synced it.
type Memory struct {
	ch       chan queued
	max      int
	maxBytes int64
	log      Log
	mu       sync.Mutex
	queued   int           // alerts published and not yet handled
	bytes    int64         // their size (batchSize)
	freed    chan struct{} // closed (and replaced) whenever room is made
	started  bool
	closed   bool
	stopped  atomic.Bool // Subscribe returns without handling what is queued
	stop     context.CancelFunc
	stopCtx  context.Context // handed to the handler; Stop cancels it
	ticking  bool            // a tick is queued: a second one would say nothing new

	handling sync.Mutex // held while an entry is handled, so checkpoints see whole entries
	handled  int64      // the log position after the last handled entry
}

type queued struct {
	Entry
	end  int64 // log position after the entry
	size int64 // the alerts' bytes (batchSize)
}

func batchSize(alerts []quell.Alert) int64 {
	var n int64
	for i := range alerts {
		n += int64(alerts[i].Size())
	}
	return n
}

// NewMemory returns a bus that holds up to maxAlerts alerts of maxBytes in
// all (see quell.Alert.Size; a single batch larger than that is still
// accepted when the queue is empty); log may be nil. It refuses alerts
// with ErrStarting until Start.
func NewMemory(maxAlerts int, maxBytes int64, log Log) *Memory {
	// One slot more than batches can take: room for a tick.
	m := &Memory{ch: make(chan queued, maxAlerts+1), max: maxAlerts, maxBytes: maxBytes, log: log, freed: make(chan struct{})}
	m.stopCtx, m.stop = context.WithCancel(context.Background())
	return m
}

// Start accepts alerts from now on; handled batches count from position
// handled, where the restored state left off.
func (m *Memory) Start(handled int64) {
	m.handling.Lock()
	m.handled = handled
	m.handling.Unlock()
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
}

func (m *Memory) Publish(ctx context.Context, alerts []quell.Alert) error {
	return m.publish(ctx, Entry{Alerts: alerts})
}

// Feedback queues a person's feedback in order with the alerts; it returns
// once the log holds it, as Publish does.
func (m *Memory) Feedback(ctx context.Context, f *quell.Feedback) error {
	return m.publish(ctx, Entry{Feedback: f})
}

func (m *Memory) publish(ctx context.Context, e Entry) error {
	var rec *Record
	if m.log != nil {
		rec = m.log.Encode(e)
	}
	size := batchSize(e.Alerts) // outside mu: it walks every alert's maps
	for {
		m.mu.Lock()
		switch {
		case m.closed:
			m.mu.Unlock()
			return ErrClosed
		case !m.started:
			m.mu.Unlock()
			return ErrStarting
		}
		if m.queued == 0 || m.queued+e.slots() <= m.max && m.bytes+size <= m.maxBytes {
			end, err := m.enqueue(e, rec, size) // under mu: the log's order is the queue's
			m.mu.Unlock()
			if err != nil || m.log == nil {
				return err
			}
			// Synced outside mu, so that one sync covers every batch
			// appended meanwhile. An error leaves the batch queued: the
			// sender's retry is a repeat, which dedupe absorbs.
			return m.log.Sync(end)
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

// Tick moves the correlator's clock to at, in order with the alerts. It
// never waits for room, and adds nothing while a tick is still queued.
func (m *Memory) Tick(at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started || m.ticking {
		return nil
	}
	e := Entry{Tick: at}
	var rec *Record
	if m.log != nil {
		rec = m.log.Encode(e) // a few bytes
	}
	if _, err := m.enqueue(e, rec, 0); err != nil {
		return err
	}
	m.ticking = true
	return nil
}

// enqueue logs e (encoded as rec) and queues it; m.mu is held.
func (m *Memory) enqueue(e Entry, rec *Record, size int64) (int64, error) {
	q := queued{Entry: e, size: size}
	if m.log != nil {
		var err error
		if q.end, err = m.log.Append(rec); err != nil {
			return 0, err
		}
	}
	if !e.IsTick() {
		m.queued += e.slots()
	}
	m.bytes += size
	m.ch <- q // never blocks: at most max entries of at least one slot and one tick are queued
	return q.end, nil
}

// MaxBytes is the queue's bound in bytes.
func (m *Memory) MaxBytes() int64 { return m.maxBytes }

// Queued is how many alerts are accepted and not yet handled, and their
// bytes (see quell.Alert.Size): a full queue is what makes ingest wait.
func (m *Memory) Queued() (alerts int, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.queued, m.bytes
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

// Stop makes Subscribe return before the entries still queued, which the
// log keeps for the next start: a shutdown need not decide a backlog to
// lose nothing. The entry being handled gets a cancelled context: if that
// stops it half-way, Subscribe returns its error, and the state no longer
// matches the handled position. It returns how many alerts it leaves.
func (m *Memory) Stop() int {
	m.stopped.Store(true)
	m.stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.queued
}

// Subscribe hands every entry to h until the bus is closed and drained, or
// stopped. It does not stop on ctx (only Stop does): draining what was
// accepted is the point of shutdown.
func (m *Memory) Subscribe(_ context.Context, h func(context.Context, Entry) error) error {
	for q := range m.ch {
		if m.stopped.Load() {
			return nil
		}
		m.handling.Lock()
		err := h(m.stopCtx, q.Entry)
		if err == nil {
			m.handled = q.end
		}
		m.handling.Unlock()
		m.mu.Lock()
		if q.IsTick() {
			m.ticking = false
		} else {
			m.queued -= q.slots()
		}
		m.bytes -= q.size
		close(m.freed)
		m.freed = make(chan struct{})
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint calls save with the log position after the last handled entry,
// while no entry is being handled: the state save stores covers exactly the
// entries up to that position.
func (m *Memory) Checkpoint(save func(handled int64) error) error {
	m.handling.Lock()
	defer m.handling.Unlock()
	return save(m.handled)
}
