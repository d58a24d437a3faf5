package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// Sink is the sinks.Sink that stores the correlator's output in
// ClickHouse. Write only queues (within max_buffered, else it blocks); one
// goroutine inserts batches bounded by batch_size and batch_age, retries
// transient failures for as long as it takes, and sends what the server
// refuses for good to the dead letters.
type Sink struct {
	cfg  SinkConfig
	w    *Writer
	dead *sinks.DeadLetters
	log  *slog.Logger
	m    *sinkMetrics
	// members is used by the inserting goroutine only.
	members memberLog

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever the queue changes
	waiting   int           // writers waiting for room
	decisions []quell.Decision
	repeats   []repeat // repeats only counted, queued lean (see repeat)
	changes   []quell.IncidentChange
	bytes     int64     // their size (queuedBytes)
	oldest    time.Time // when the oldest queued item arrived
	closing   bool
	// given and finished count the decisions, repeats and changes queued
	// and then stored or dead-lettered (see sinks.Holder).
	given, finished [3]uint64

	stop context.CancelFunc // ends retries when Close runs out of time
	ctx  context.Context
	done chan struct{}
}

// NewSink starts a sink writing through conn (see Open). It fails when the
// schema is older than this quell (run Migrate first). Undeliverable items
// go to dead (the file) and to the dead_letters table.
func NewSink(ctx context.Context, conn driver.Conn, cfg SinkConfig, dead *sinks.DeadLetters, log *slog.Logger, reg prometheus.Registerer) (*Sink, error) {
	if err := cfg.checkBounds(); err != nil {
		return nil, err
	}
	if dead == nil {
		return nil, errors.New("clickhouse sink: no dead-letter file given; refused items would have nowhere to go")
	}
	if err := CheckSchema(ctx, conn); err != nil {
		return nil, err
	}
	m, err := newSinkMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, dead: dead, log: log, m: m, members: memberLog{}, changed: make(chan struct{}), done: make(chan struct{})}
	s.w = NewWriter(conn, log, Backoff{})
	s.w.observe = m.observe
	if cfg.StoreRepeats {
		s.w.StoreRepeats()
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Name is the sink's name in logs and dead letters.
func (s *Sink) Name() string { return "clickhouse" }

// Write queues b and returns; it blocks while the queue is full, until it
// drains or ctx ends (then b is not taken and the caller delivers it again).
func (s *Sink) Write(ctx context.Context, b sinks.Batch) error {
	n := len(b.Decisions) + len(b.Changes)
	if n == 0 {
		return nil
	}
	ds, rs := lean(b.Decisions, s.cfg.StoreRepeats)
	size := queuedBytes(ds, rs, b.Changes)
	s.mu.Lock()
	// A batch larger than the bound waits for an empty queue rather than
	// for room it could never get.
	for held := s.held(); held > 0 && (held+n > s.cfg.MaxBuffered || s.overBytes(size)) && !s.closing; held = s.held() {
		wait := s.changed
		s.waiting++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
			return fmt.Errorf("clickhouse sink: queue full (%d of max_buffered %d, %d bytes; is ClickHouse down?), batch not taken: %w", held, s.cfg.MaxBuffered, s.bytes, ctx.Err())
		case <-wait:
		}
		s.mu.Lock()
		s.waiting--
	}
	defer s.mu.Unlock()
	if s.closing {
		return errors.New("clickhouse sink: closed, batch not taken")
	}
	if s.held() == 0 {
		s.oldest = time.Now()
	}
	s.decisions = append(s.decisions, ds...)
	s.repeats = append(s.repeats, rs...)
	s.changes = append(s.changes, b.Changes...)
	s.bytes += size
	s.given[0] += uint64(len(ds))
	s.given[1] += uint64(len(rs))
	s.given[2] += uint64(len(b.Changes))
	s.notify()
	return nil
}

// Holding reports whether the sink finished what was queued so far.
func (s *Sink) Holding() func() bool {
	s.mu.Lock()
	given := s.given
	s.mu.Unlock()
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.finished[0] >= given[0] && s.finished[1] >= given[1] && s.finished[2] >= given[2]
	}
}

// dequeue drops the first nd decisions, nr repeats and nc changes, stored
// or dead-lettered; s.mu is held.
func (s *Sink) dequeue(nd, nr, nc int) {
	s.bytes -= queuedBytes(s.decisions[:nd], s.repeats[:nr], s.changes[:nc])
	s.decisions = consume(s.decisions, nd)
	s.repeats = consume(s.repeats, nr)
	s.changes = consume(s.changes, nc)
	s.finished[0] += uint64(nd)
	s.finished[1] += uint64(nr)
	s.finished[2] += uint64(nc)
	s.notify()
}

// consume drops the first n items of a queue. When no more remain than
// were dropped, the rest moves to the front of the array, so that appends
// reuse it (only ever sliced forward, the queue outgrew its array and copied
// itself into a new one again and again); otherwise it is sliced forward,
// so that a dequeue copies at most what it took, as the correlator's held
// decisions do.
func consume[T any](q []T, n int) []T {
	if len(q)-n > n {
		clear(q[:n]) // the backing array outlives them otherwise
		return q[n:]
	}
	kept := copy(q, q[n:])
	clear(q[kept:]) // the moved items' old places would keep what they hold alive
	return q[:kept]
}

// Close inserts everything queued. If ctx ends first (ClickHouse still
// down), what is left goes to the dead-letter file, to be replayed.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.notify()
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		s.stop()
		<-s.done
	}
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held() == 0 {
		return nil
	}
	n := s.held()
	reason := fmt.Sprintf("clickhouse sink closed before these could be stored: %v", ctx.Err())
	if err := s.deadLetterFile(s.decisions, s.repeats, s.changes, reason); err != nil {
		return fmt.Errorf("clickhouse sink: %d items not stored and not dead-lettered: %w", n, err)
	}
	s.dequeue(len(s.decisions), len(s.repeats), len(s.changes))
	return fmt.Errorf("clickhouse sink: closed with %d items not stored; they are in %s (replay them once ClickHouse is back)", n, s.dead.Path())
}

// lean splits decisions into those queued whole and the repeats that are
// only counted, which become lean rows before they wait: their alerts are
// garbage at once instead of filling the buffer's bytes.
func lean(all []quell.Decision, storeRepeats bool) (ds []quell.Decision, rs []repeat) {
	n := 0
	for i := range all {
		if countedOnly(&all[i], storeRepeats) {
			n++
		}
	}
	if n == 0 {
		return all, nil // the caller copies them into its queue
	}
	ds, rs = make([]quell.Decision, 0, len(all)-n), make([]repeat, 0, n)
	digest := xxhash.New()
	for i := range all {
		if d := &all[i]; countedOnly(d, storeRepeats) {
			rs = append(rs, newRepeat(eventID(digest, &d.Alert), d))
		} else {
			ds = append(ds, *d)
		}
	}
	return ds, rs
}

// held counts queued items; s.mu is held.
func (s *Sink) held() int { return len(s.decisions) + len(s.repeats) + len(s.changes) }

// overBytes tells whether size more bytes pass MaxBufferedBytes; s.mu is held.
func (s *Sink) overBytes(size int64) bool {
	return s.cfg.MaxBufferedBytes > 0 && s.bytes+size > s.cfg.MaxBufferedBytes
}

// queuedBytes is what queued items hold: a lean repeat about the bytes of
// its row (repeatRowBytes), the others their size.
func queuedBytes(ds []quell.Decision, rs []repeat, cs []quell.IncidentChange) int64 {
	n := int64(len(rs)) * repeatRowBytes
	for i := range ds {
		n += int64(ds[i].Size())
	}
	for i := range cs {
		n += int64(cs[i].Size())
	}
	return n
}

// Ready fails while the buffer is full (ClickHouse down or behind): a
// writer waits for room.
func (s *Sink) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.held(); s.waiting > 0 || n >= s.cfg.MaxBuffered || s.overBytes(0) {
		return fmt.Errorf("clickhouse sink: buffer full (%d of max_buffered %d); is ClickHouse down?", n, s.cfg.MaxBuffered)
	}
	return nil
}

// notify wakes everyone waiting on the queue; s.mu is held.
func (s *Sink) notify() {
	s.m.buffered.Set(float64(s.held()))
	close(s.changed)
	s.changed = make(chan struct{})
}
