// Package pipeline runs the correlator between the bus and the sinks: it
// feeds every accepted alert to an engine, moves the engine's clock, and
// hands what it decides to the sinks. In split mode there is one pipeline
// per assigned Kafka partition (see Partitions); the sink stage drops
// redelivered copies (see Dedupe).
package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

// Pipeline owns one correlation engine. Its methods are safe for concurrent use.
type Pipeline struct {
	// out orders dispatches: batches reach the sinks in the order the engine
	// produced them, whichever goroutine (bus or clock) produced them.
	out     sync.Mutex
	mu      sync.Mutex // the engine; not held while sinks push back, so reads go on
	eng     *correlate.Engine
	pending sinks.Batch // what the engine emitted since the last dispatch
	sinks   []sinks.Sink
	m       *metrics
	waiters *Outcomes // who waits for feedback's outcomes (shared by the Set)
	// With changes tracked, a new topology waits for the next Changes (see
	// SetTopology): topo is it when swap is set.
	tracking bool
	swap     bool
	topo     *correlate.Topology
}

// Step is one input: an alert to process at At, a person's feedback, or,
// with both nil, the clock moving to At.
type Step struct {
	Alert    *quell.Alert
	Feedback *quell.Feedback
	At       time.Time
}

func newPipeline(cfg correlate.Config, topo *correlate.Topology, ss []sinks.Sink, m *metrics, waiters *Outcomes) (*Pipeline, error) {
	p := &Pipeline{sinks: ss, m: m, waiters: waiters}
	eng, err := correlate.New(cfg, topo, correlate.Output{
		Decision: func(d quell.Decision) { p.pending.Decisions = append(p.pending.Decisions, d) },
		Change:   func(c quell.IncidentChange) { p.pending.Changes = append(p.pending.Changes, c) },
		Evicted: func(id string, alerts int, open bool, why string) {
			state := "resolved"
			if open {
				state = "open"
			}
			m.evictions.WithLabelValues(state).Inc()
			m.evicted.Log("incident", id, "alerts", alerts, "open", open, "why", why)
		},
	})
	if err != nil {
		return nil, err
	}
	p.eng = eng
	return p, nil
}

// Apply processes steps in order and returns once every sink holds what
// they produced: only then may the bus commit them.
func (p *Pipeline) Apply(ctx context.Context, steps []Step) error {
	p.out.Lock()
	defer p.out.Unlock()
	out, done := p.decide(steps)
	if err := p.dispatch(ctx, out); err != nil {
		return err
	}
	p.reuse(out)
	p.waiters.deliver(done)
	return nil
}

// reuse gives the next step the arrays of decisions and changes the sinks
// hold copies of by now (a sink copies what it keeps): fresh ones per step
// were a large share of what the process allocated.
func (p *Pipeline) reuse(b sinks.Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cap(b.Decisions) <= maxReused && p.pending.Decisions == nil {
		clear(b.Decisions) // what they pointed to may go
		p.pending.Decisions = b.Decisions[:0]
	}
	if cap(b.Changes) <= maxReused && p.pending.Changes == nil {
		clear(b.Changes)
		p.pending.Changes = b.Changes[:0]
	}
}

// maxReused: a step's array of decisions or changes larger than this is
// let go of, not kept for the next.
const maxReused = 4096

// decide processes steps in order and returns what they produced, and the
// outcomes of their feedback, to deliver once that is dispatched.
func (p *Pipeline) decide(steps []Step) (sinks.Batch, []outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Most steps decide one alert: room for that many decisions spares the
	// copies of a slice grown by appends.
	p.pending.Decisions = slices.Grow(p.pending.Decisions, len(steps))
	var done []outcome
	for _, s := range steps {
		switch {
		case s.Feedback != nil:
			id, err := p.eng.Feedback(s.Feedback)
			done = append(done, outcome{s.Feedback.ID, Outcome{id, err}})
		case s.Alert != nil:
			p.eng.Process(s.Alert, s.At)
		default:
			p.eng.Tick(s.At)
		}
	}
	p.eng.EmitUpdates()
	out := p.pending
	p.pending = sinks.Batch{}
	return out, done
}

// Handle is the embedded bus's handler: alerts at their receive time.
func (p *Pipeline) Handle(ctx context.Context, batch []quell.Alert) error {
	steps := make([]Step, len(batch))
	for i := range batch {
		at := batch[i].ReceivedAt
		if at.IsZero() {
			at = time.Now()
		}
		steps[i] = Step{Alert: &batch[i], At: at}
	}
	return p.Apply(ctx, steps)
}

// Feedback applies a person's feedback (the embedded bus's handler).
func (p *Pipeline) Feedback(ctx context.Context, f *quell.Feedback) error {
	return p.Apply(ctx, []Step{{Feedback: f, At: f.At}})
}

// Tick moves the engine's clock to now, releasing held decisions and
// firing deadlines (resolve holds, expiries).
func (p *Pipeline) Tick(ctx context.Context, now time.Time) error {
	return p.Apply(ctx, []Step{{At: now}})
}

func (p *Pipeline) dispatch(ctx context.Context, b sinks.Batch) error {
	if len(b.Decisions) == 0 && len(b.Changes) == 0 {
		return nil
	}
	// Counted per run of one action: a lookup per decision was a measurable
	// part of the pipeline's time.
	ds := b.Decisions
	for i := 0; i < len(ds); {
		j := i + 1
		for j < len(ds) && ds[j].Action == ds[i].Action {
			j++
		}
		p.m.decisions.WithLabelValues(string(ds[i].Action)).Add(float64(j - i))
		i = j
	}
	for _, s := range p.sinks {
		if err := s.Write(ctx, b); err != nil {
			return fmt.Errorf("sink %s: %w", s.Name(), err)
		}
	}
	return nil
}

// Incidents answers q (see correlate.Query).
func (p *Pipeline) Incidents(q correlate.Query) []quell.Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Incidents(q)
}

// with runs read on the engine.
func (p *Pipeline) with(read func(*correlate.Engine) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return read(p.eng)
}

// Count is how many incidents have status ("" for all).
func (p *Pipeline) Count(status quell.IncidentStatus) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Count(status)
}

// StateBytes is what its engine counts of its state (see correlate.Config.MaxStateBytes).
func (p *Pipeline) StateBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.StateBytes()
}

// LearnedCounts is how much its engine learned online.
func (p *Pipeline) LearnedCounts() correlate.LearnedCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.LearnedCounts()
}

// Incident returns one incident.
func (p *Pipeline) Incident(id string) (quell.Incident, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Incident(id)
}

// Snapshot captures the engine's state.
func (p *Pipeline) Snapshot() correlate.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Snapshot()
}

// TrackChanges starts recording what changes, for Changes.
func (p *Pipeline) TrackChanges() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eng.TrackChanges()
	p.tracking = true
}

// Changes captures what changed in the engine's state since the last call.
func (p *Pipeline) Changes() (*correlate.Delta, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, err := p.eng.Changes()
	if err == nil && p.swap {
		p.swap = false
		err = p.useTopology(p.topo)
	}
	return d, err
}

// SetTopology makes the engine read topo as its topology file from now on
// (nil: none), with its state and what it learned kept. With changes
// tracked it takes effect at the next Changes, so that a checkpoint
// divides what was decided with the old topology from what is decided
// with the new one, and a replay after a crash decides the same.
func (p *Pipeline) SetTopology(topo *correlate.Topology) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tracking {
		p.swap, p.topo = true, topo
		return nil
	}
	return p.useTopology(topo)
}

func (p *Pipeline) useTopology(topo *correlate.Topology) error {
	eng, err := p.eng.WithTopology(topo)
	if err != nil {
		return err
	}
	p.eng = eng
	return nil
}

// Restore loads a snapshot into the (new) engine.
func (p *Pipeline) Restore(s correlate.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eng.Restore(s)
}

// release gives back the engine's part of a shared state budget: the
// pipeline is dropped (see Set.Remove).
func (p *Pipeline) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eng.Release()
}
