package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
)

// Event is one record of an alerts partition: an alert, a person's
// feedback, or a clock tick (both nil).
type Event struct {
	Alert    *quell.Alert
	Feedback *quell.Feedback
	// At is the alert's ReceivedAt (the record's time when unset), the
	// feedback's time or the tick's.
	At time.Time
}

// Partition is the work on one assigned partition of the alerts topic.
type Partition interface {
	// Handle processes events in log order; what they produced may still
	// be on its way downstream when it returns (see Flush). After an error
	// the partition is dropped and rebuilt from its last checkpoint.
	Handle(ctx context.Context, evs []Event) error
	// Flush returns once everything Handle produced is acknowledged
	// downstream: a checkpoint may then cover it.
	Flush() error
	// Changes captures what changed in the state since the last call, for
	// the state topic; what it returns encodes that as records, and may run
	// while Handle goes on.
	Changes() (StateChanges, error)
	// Close releases the partition: it was revoked, or the process stops.
	Close()
}

// OpenFunc starts the work on a partition from its last saved state: the
// latest value of every key (nil: none).
type OpenFunc func(ctx context.Context, partition int, state map[string][]byte) (Partition, error)

// PartitionedConfig configures a Partitioned consumer.
type PartitionedConfig struct {
	Brokers []string
	Names   Names
	GroupID string
	// InstanceID names this process's member of the group (Kafka's
	// group.instance.id): restarted under the same name after a crash, it
	// takes its partitions back at once instead of after the old member's
	// session (10 s). "": a new member each start.
	InstanceID string
	// A batch is handed over once it holds MaxBatch records (default 1000)
	// or Linger after its first record arrived (default 5ms).
	MaxBatch int
	Linger   time.Duration
	// TickEvery is how often the clock of each owned partition moves
	// (default 100ms); SnapshotEvery how often what changed in its state is
	// saved (default 2s).
	TickEvery     time.Duration
	SnapshotEvery time.Duration
	Logger        *slog.Logger
	// Metrics, when set, registers the partitions owned, the assignments
	// and the restore times.
	Metrics prometheus.Registerer
}

// Partitioned consumes the alerts topic as a consumer group member with one
// Partition per assigned partition, so that state follows partitions when the
// group rebalances.
//
// Restart safety: the state of partition p is kept in partition p of the
// compacted state topic as a changelog (see state.go), checkpointed with
// the offset it covers every SnapshotEvery, so it follows p to whichever
// instance owns it next (a data dir would not), and work on p resumes from
// there. Records after the checkpoint are processed again, so
// processing must give the same result the second time: the clock is part
// of the log for that reason. The owner of a partition writes a tick record
// into it every TickEvery, and the correlator's clock moves only by the
// records it reads (ticks and alerts' receive times), never by the wall
// clock, so replaying records replays the same decisions with the same
// incident ids, and downstream deduplication sees identical copies.
//
// Offsets are committed to the group after a checkpoint; they show the
// group's lag, while the resume point is the checkpoint's offset, which is
// never ahead of acknowledged outputs either.
type Partitioned struct {
	cfg PartitionedConfig
	log *slog.Logger
	m   *partitionMetrics
}

// NewPartitioned checks cfg and fills in its defaults; Run connects.
func NewPartitioned(cfg PartitionedConfig) (*Partitioned, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka partitioned consumer: no brokers given: set the bootstrap addresses (--kafka)")
	case cfg.Names.Alerts == "" || cfg.Names.State == "" || cfg.Names.DeadLetter == "":
		return nil, errors.New("kafka partitioned consumer: alerts, state and dead-letter topics are required")
	case cfg.GroupID == "":
		return nil, errors.New("kafka partitioned consumer: no consumer group id given")
	case cfg.Logger == nil:
		return nil, errors.New("kafka partitioned consumer: no logger given")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 5 * time.Millisecond
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 100 * time.Millisecond
	}
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = 2 * time.Second
	}
	return &Partitioned{cfg: cfg, log: cfg.Logger.With("topic", cfg.Names.Alerts, "group", cfg.GroupID), m: newPartitionMetrics(cfg.Metrics)}, nil
}

// Run joins the group and works on the partitions it is assigned until ctx
// ends; every partition saves its state before Run returns.
func (p *Partitioned) Run(ctx context.Context, open OpenFunc) error {
	g := newGroup(p.cfg.Brokers, p.cfg.GroupID, p.cfg.InstanceID, p.cfg.Names.Alerts, p.log)
	tr := newTransport([]string{p.cfg.Names.Alerts, p.cfg.Names.State, p.cfg.Names.DeadLetter})
	w := p.newWriters(tr)
	defer func() {
		g.leave() // once every partition was released
		w.close(p.log)
		tr.CloseIdleConnections()
	}()
	for {
		gen, err := g.join(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errFenced):
			return p.fenced(err)
		case err != nil:
			p.log.Warn("joining the consumer group failed; retrying", "err", err)
			if sleep(ctx, joinBackoff) != nil {
				return nil
			}
			continue
		}
		p.log.Info("consumer group generation", "generation", gen.id, "member", gen.member, "partitions", gen.assigned)
		p.m.joins.Inc()
		for _, id := range gen.assigned {
			gen.start(func(gctx context.Context) { p.work(ctx, gctx, gen, id, open, w) })
		}
		if err := gen.wait(); errors.Is(err, errFenced) {
			return p.fenced(err)
		} else if ctx.Err() == nil {
			p.log.Info("consumer group generation ended; rejoining", "generation", gen.id, "why", err)
		}
	}
}

// fenced is Run's error once another process took this member's place.
func (p *Partitioned) fenced(err error) error {
	return fmt.Errorf("consumer group %s: %w: give each correlator its own --instance-id (%q is taken)", p.cfg.GroupID, err, p.cfg.InstanceID)
}

// work runs one partition for one generation. Returning ends the
// generation for every partition (see generation.start), which is what an error
// needs: the group rejoins and the partition restarts from its checkpoint.
func (p *Partitioned) work(ctx, gctx context.Context, gen *generation, id int, open OpenFunc, w *writers) {
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(gctx, cancel)()
	log := p.log.With("partition", id)
	start := time.Now()
	sl, res, err := p.load(stop, id)
	if err != nil {
		if stop.Err() == nil {
			log.Error("reading the partition's state failed; rejoining the group to retry", "err", err)
		}
		return
	}
	part, err := open(stop, id, res.state)
	if err != nil {
		log.Error("restoring the partition's state failed; rejoining the group to retry", "err", err)
		return
	}
	defer part.Close()
	p.m.owned.Inc()
	defer p.m.owned.Dec()
	// Restoring is reading the state and rebuilding the engine from it.
	took := time.Since(start)
	p.m.restores.Observe(took.Seconds())
	next := res.next
	log.Info("partition assigned", "from_offset", offsetName(next), "restored_keys", len(res.state),
		"state_records_read", res.records, "restore_seconds", took.Seconds())

	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: p.cfg.Brokers, Topic: p.cfg.Names.Alerts, Partition: id,
		QueueCapacity: p.cfg.MaxBatch, MinBytes: 1, MaxBytes: 4 << 20,
		// The fetch's read deadline; the broker holds an idle fetch 1s less.
		MaxWait:     2 * time.Second,
		Logger:      kafkaLogger(log, slog.LevelDebug),
		ErrorLogger: kafkaLogger(log, slog.LevelWarn),
	})
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		log.Error("positioning the reader failed", "offset", next, "err", err)
		return
	}
	go p.tick(stop, id, w, log)

	cp := &checkpoints{log: sl, w: w.state, saved: next}
	// A checkpoint in flight when the partition stops is let finish (until
	// the release's deadline): cut off, it would fail the release's save too.
	saving, stopSaving := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSaving()
	lastSave := time.Now()
	for b := range p.fetching(stop, r, w, log) {
		evs, last, err := b.evs, b.last, b.err
		if err != nil {
			if stop.Err() == nil {
				log.Error("reading the partition failed; rejoining the group", "err", err)
			}
			break
		}
		if err := part.Handle(stop, evs); err != nil {
			// The state now holds what was not delivered: drop it unsaved, so
			// the partition is rebuilt from its checkpoint and delivers again.
			if stop.Err() == nil {
				log.Error("delivering the correlator's output failed; restarting the partition from its last checkpoint", "err", err)
			}
			return
		}
		next = last + 1
		if time.Since(lastSave) < p.cfg.SnapshotEvery {
			continue
		}
		lastSave = time.Now()
		if err := errors.Join(part.Flush(), cp.wait()); err != nil {
			// What the topic holds is unknown now: restore from it.
			if stop.Err() == nil {
				log.Error("saving the partition's state failed; restarting the partition from its last checkpoint", "err", err)
			}
			return
		}
		// The checkpoint's offset is where the partition resumes; the
		// group's offset only shows the lag, so it follows checkpoints
		// rather than costing a round trip per batch.
		if err := gen.commit(stop, map[int]int64{id: cp.saved}); err != nil {
			log.Debug("committing offsets failed (a rebalance ends the generation); the checkpoint's offset is what counts", "err", err)
		}
		encode, err := part.Changes()
		if err != nil {
			log.Error("reading the partition's state changes failed; restarting the partition from its last checkpoint", "err", err)
			return
		}
		cp.start(saving, encode, next)
	}
	// Revoked or stopping: save, so the next owner resumes here instead of
	// replaying since the last checkpoint.
	sctx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelSave()
	defer context.AfterFunc(sctx, stopSaving)()
	err = errors.Join(part.Flush(), cp.wait())
	if err == nil && next != cp.saved {
		var encode StateChanges
		if encode, err = part.Changes(); err == nil {
			cp.start(sctx, encode, next)
			err = cp.wait()
		}
	}
	if err != nil {
		log.Warn("saving the partition's state on release failed; its next owner replays from the last checkpoint", "err", err)
		return
	}
	log.Info("partition released", "offset", next)
}

// checkpoints writes a partition's checkpoints one at a time beside its
// work: the correlator goes on while a checkpoint's records are encoded
// and on their way, and the next checkpoint waits for the previous one.
type checkpoints struct {
	log   *stateLog
	w     *stateWriter
	saved int64 // the input offset of the last checkpoint written
	done  chan error
	next  int64 // of the checkpoint in flight
}

func (c *checkpoints) start(ctx context.Context, encode StateChanges, next int64) {
	c.done, c.next = make(chan error, 1), next
	go func() {
		c.done <- c.log.save(ctx, encode, next, c.w)
	}()
}

// wait returns once no checkpoint is in flight, with its error.
func (c *checkpoints) wait() error {
	if c.done == nil {
		return nil
	}
	err := <-c.done
	c.done = nil
	if err == nil {
		c.saved = c.next
	}
	return err
}

func offsetName(o int64) string {
	if o == kafkago.FirstOffset {
		return "first"
	}
	return strconv.FormatInt(o, 10)
}

// tick writes the partition's clock into it until ctx ends.
func (p *Partitioned) tick(ctx context.Context, id int, w *writers, log *slog.Logger) {
	t := time.NewTicker(p.cfg.TickEvery)
	defer t.Stop()
	key := []byte(strconv.Itoa(id))
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			v, _ := now.UTC().MarshalText()
			m := kafkago.Message{Key: key, Value: v, Headers: []kafkago.Header{{Key: HeaderTick}}}
			if err := w.ticks.WriteMessages(ctx, m); err != nil && ctx.Err() == nil {
				log.Warn("writing a clock tick failed; decisions wait for the next", "err", err)
			}
		}
	}
}

// HeaderTick marks a clock record in the alerts topic; its value is the time.
const HeaderTick = "quell-tick"

// fetched is a batch of events as fetch returned it.
type fetched struct {
	evs  []Event
	last int64
	err  error
}

// fetching fetches and decodes batches beside the work on the previous
// one: decoding records is a good part of what an alert costs, and the
// correlator's single writer need not wait for it. The channel closes after
// a failed fetch or once ctx ends.
func (p *Partitioned) fetching(ctx context.Context, r *kafkago.Reader, w *writers, log *slog.Logger) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		defer close(out)
		for {
			evs, last, err := p.fetch(ctx, r, w, log)
			select {
			case out <- fetched{evs, last, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// fetch collects one batch of events: it waits for a first record, then
// takes more until the batch is full or the linger is over. Undecodable
// records go to the dead-letter topic. last is the offset of the last record.
func (p *Partitioned) fetch(ctx context.Context, r *kafkago.Reader, w *writers, log *slog.Logger) (evs []Event, last int64, err error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, 0, err
	}
	linger, cancel := context.WithTimeout(ctx, p.cfg.Linger)
	defer cancel()
	for n := 1; ; n++ {
		if ev, err := decodeEvent(m); err != nil {
			log.Warn("undecodable record sent to the dead-letter topic", "offset", m.Offset, "deadletter", p.cfg.Names.DeadLetter, "err", err)
			if err := deadLetter(ctx, w.dead, p.cfg.GroupID, m, err); err != nil {
				return nil, 0, err
			}
		} else {
			evs = append(evs, ev)
		}
		last = m.Offset
		if n >= p.cfg.MaxBatch {
			return evs, last, nil
		}
		m, err = r.FetchMessage(linger)
		if err != nil {
			if ctx.Err() == nil && linger.Err() != nil {
				return evs, last, nil
			}
			return nil, 0, err
		}
	}
}

func decodeEvent(m kafkago.Message) (Event, error) {
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderTick:
			var at time.Time
			if err := at.UnmarshalText(m.Value); err != nil {
				return Event{}, fmt.Errorf("clock tick: %w", err)
			}
			return Event{At: at}, nil
		case HeaderFeedback:
			return decodeFeedback(m.Value)
		}
	}
	a, err := decode[quell.Alert](m.Value)
	if err != nil {
		return Event{}, err
	}
	at := a.ReceivedAt
	if at.IsZero() {
		at = m.Time // deterministic, unlike the wall clock
	}
	return Event{Alert: &a, At: at}, nil
}
