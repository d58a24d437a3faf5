// Package pipeline runs the correlator between the bus and the sinks: it
// feeds every accepted alert to the engine, drives the engine's clock, hands
// what it decides to every sink, and keeps the engine's state on disk.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/sinks"
)

// Pipeline owns one correlation engine. Its methods are safe for concurrent use.
type Pipeline struct {
	mu      sync.Mutex
	eng     *correlate.Engine
	pending sinks.Batch // what the engine emitted since the last dispatch
	sinks   []sinks.Sink
	log     *slog.Logger
	dataDir string

	processed *prometheus.CounterVec
	incidents prometheus.GaugeFunc
}

// New builds a pipeline. With dataDir set, state is restored from its
// snapshot, if any, and saved there by Snapshot.
func New(cfg correlate.Config, topo *correlate.Topology, dataDir string, ss []sinks.Sink, log *slog.Logger, reg prometheus.Registerer) (*Pipeline, error) {
	p := &Pipeline{sinks: ss, log: log, dataDir: dataDir}
	eng, err := correlate.New(cfg, topo, correlate.Output{
		Decision: func(d quell.Decision) { p.pending.Decisions = append(p.pending.Decisions, d) },
		Change:   func(c quell.IncidentChange) { p.pending.Changes = append(p.pending.Changes, c) },
	})
	if err != nil {
		return nil, err
	}
	p.eng = eng
	if dataDir != "" {
		if err := p.restore(); err != nil {
			return nil, err
		}
	}
	p.processed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quell_decisions_total", Help: "Decisions made by the correlator, by action.",
	}, []string{"action"})
	p.incidents = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quell_open_incidents", Help: "Incidents currently open.",
	}, func() float64 { return float64(len(p.Incidents(quell.IncidentOpen))) })
	if reg != nil {
		reg.MustRegister(p.processed, p.incidents)
	}
	return p, nil
}

// Handle processes one batch from the bus, in arrival time, and returns once
// every sink holds what it produced: only then may the bus commit it.
func (p *Pipeline) Handle(ctx context.Context, batch []quell.Alert) error {
	p.mu.Lock()
	for i := range batch {
		at := batch[i].ReceivedAt
		if at.IsZero() {
			at = time.Now()
		}
		p.eng.Process(&batch[i], at)
	}
	out := p.take()
	p.mu.Unlock()
	return p.dispatch(ctx, out)
}

// Tick moves the engine's clock to now, releasing held decisions and
// firing deadlines (resolve holds, expiries).
func (p *Pipeline) Tick(ctx context.Context, now time.Time) error {
	p.mu.Lock()
	p.eng.Advance(now)
	out := p.take()
	p.mu.Unlock()
	return p.dispatch(ctx, out)
}

// Run ticks every interval until ctx ends.
func (p *Pipeline) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := p.Tick(ctx, now); err != nil && ctx.Err() == nil {
				p.log.Error("delivering correlator output failed; it is kept in the snapshot's next state and retried by the sink", "err", err)
			}
		}
	}
}

func (p *Pipeline) take() sinks.Batch {
	out := p.pending
	p.pending = sinks.Batch{}
	return out
}

func (p *Pipeline) dispatch(ctx context.Context, b sinks.Batch) error {
	if len(b.Decisions) == 0 && len(b.Changes) == 0 {
		return nil
	}
	for i := range b.Decisions {
		p.processed.WithLabelValues(string(b.Decisions[i].Action)).Inc()
	}
	for _, s := range p.sinks {
		if err := s.Write(ctx, b); err != nil {
			return fmt.Errorf("sink %s: %w", s.Name(), err)
		}
	}
	return nil
}

// Incidents lists incidents newest first; status "" means all.
func (p *Pipeline) Incidents(status quell.IncidentStatus) []quell.Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Incidents(status)
}

// Incident returns one incident.
func (p *Pipeline) Incident(id string) (quell.Incident, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eng.Incident(id)
}

// Subscribe feeds the bus into the pipeline until the bus ends.
func (p *Pipeline) Subscribe(ctx context.Context, sub bus.Subscriber) error {
	return sub.Subscribe(ctx, p.Handle)
}

const snapshotFile = "correlator.json"

// Snapshot writes the engine's state to the data folder, atomically.
func (p *Pipeline) Snapshot() error {
	if p.dataDir == "" {
		return nil
	}
	p.mu.Lock()
	snap := p.eng.Snapshot()
	p.mu.Unlock()
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	tmp, err := os.CreateTemp(p.dataDir, snapshotFile+".*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := json.NewEncoder(tmp).Encode(snap); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(p.dataDir, snapshotFile)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

func (p *Pipeline) restore() error {
	path := filepath.Join(p.dataDir, snapshotFile)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restoring state: %w", err)
	}
	defer f.Close()
	var snap correlate.Snapshot
	if err := json.NewDecoder(f).Decode(&snap); err != nil {
		return fmt.Errorf("restoring state from %s: %w (move the file away to start empty)", path, err)
	}
	p.eng.Restore(snap)
	p.log.Info("restored correlator state", "path", path, "incidents", len(snap.Incidents), "alerts", len(snap.Alerts))
	return nil
}

// Close flushes: held decisions wait for nothing more, every sink delivers.
func (p *Pipeline) Close(ctx context.Context) error {
	var first error
	for _, s := range p.sinks {
		if err := s.Close(ctx); err != nil && first == nil {
			first = fmt.Errorf("closing sink %s: %w", s.Name(), err)
		}
	}
	return first
}
