package pipeline

import (
	"context"
	"fmt"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/sinks"
)

// Partitions opens one pipeline per assigned partition of the alerts topic
// (a kafka.OpenFunc): a scope's alerts all land in one partition, so one
// engine per partition sees every alert it needs, and its state can move
// with the partition when the group rebalances.
type Partitions struct {
	Set    *Set
	Config correlate.Config
	// Out receives every partition's decisions and changes (kafka.Outputs).
	Out sinks.Sink
}

// Open builds partition id's pipeline from its saved state (nil: empty).
func (ps *Partitions) Open(_ context.Context, id int, state map[string][]byte) (kafka.Partition, error) {
	p, err := ps.Set.New(id, ps.Config, []sinks.Sink{ps.Out})
	if err != nil {
		return nil, err
	}
	if state != nil {
		snap, err := correlate.FromRecords(state)
		if err != nil {
			ps.Set.Remove(id, p)
			return nil, fmt.Errorf("partition %d: %w; delete the state topic's records to rebuild from the alerts", id, err)
		}
		p.Restore(snap)
	}
	p.TrackChanges()
	return &partition{set: ps.Set, id: id, p: p}, nil
}

type partition struct {
	set   *Set
	id    int
	p     *Pipeline
	steps []Step // reused
	// sent reports the delivery of the previous batch's output, still on
	// its way while the next batch is decided (nil: none).
	sent chan error
}

// Handle decides evs while the previous batch's output is on its way, then
// sends their output once that arrived: batches reach the sinks in order,
// and deciding does not wait for the broker's acknowledgement.
func (pt *partition) Handle(ctx context.Context, evs []kafka.Event) error {
	pt.steps = pt.steps[:0]
	for _, ev := range evs {
		pt.steps = append(pt.steps, Step{Alert: ev.Alert, Feedback: ev.Feedback, At: ev.At})
	}
	out, done := pt.p.decide(pt.steps)
	if err := pt.Flush(); err != nil {
		return err
	}
	pt.sent = make(chan error, 1)
	// Not cancelled with the partition: a release waits for it, so that
	// its last checkpoint covers this batch.
	go func() {
		err := pt.p.dispatch(context.WithoutCancel(ctx), out)
		if err == nil {
			pt.p.reuse(out)
			pt.p.waiters.deliver(done)
		}
		pt.sent <- err
	}()
	return nil
}

func (pt *partition) Flush() error {
	if pt.sent == nil {
		return nil
	}
	err := <-pt.sent
	pt.sent = nil
	return err
}

func (pt *partition) Changes() (kafka.StateChanges, error) {
	d, err := pt.p.Changes()
	if err != nil {
		return nil, err
	}
	return func(yield func(kafka.StateRecord) error) error {
		return d.Each(func(r correlate.Record) error { return yield(kafka.StateRecord(r)) })
	}, nil
}

func (pt *partition) Close() {
	pt.Flush() // an error here is the next owner's to redo: it resumes from the last checkpoint
	pt.set.Remove(pt.id, pt.p)
}
