package pipeline

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/lograte"
	"github.com/quellhq/quell/sinks"
)

// Set holds the pipelines of one process: one in embedded mode, one per
// assigned partition in split mode. It answers the API across all of them
// and owns the metrics they share.
type Set struct {
	mu   sync.RWMutex
	ps   map[int]*Pipeline
	topo *correlate.Topology // every pipeline's, new ones' too
	m    *metrics
	// Outcomes of feedback, for whoever sent it.
	Outcomes Outcomes
}

type metrics struct {
	decisions *prometheus.CounterVec
	evictions *prometheus.CounterVec
	// evicted logs evictions once per interval, with a count.
	evicted *lograte.Limit
}

// NewSet registers the correlator's metrics with reg; log hears of
// evictions. Its pipelines read topo as the topology file (nil: none)
// until SetTopology.
func NewSet(reg prometheus.Registerer, log *slog.Logger, topo *correlate.Topology) *Set {
	s := &Set{ps: make(map[int]*Pipeline), topo: topo, m: &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_decisions_total", Help: "Decisions made by the correlator, by action.",
		}, []string{"action"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_evictions_total",
			Help: "Incidents the correlator dropped to stay within correlate.max_incidents, max_tracked_alerts or its state share of memory_limit, by whether they were open.",
		}, []string{"state"}),
		evicted: lograte.New(log, slog.LevelWarn, "the correlator evicts incidents to stay within a bound: raise the one its why names (correlate.max_incidents, max_tracked_alerts, or memory_limit, whose share holds the incidents' alerts), or look for a flood of unrelated alerts", 10*time.Second),
	}}
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quell_open_incidents", Help: "Incidents currently open (in this process's partitions).",
	}, func() float64 { return float64(s.Count(quell.IncidentOpen)) })
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quell_state_bytes",
		Help: "Bytes the correlator's incidents and their alerts hold, as counted against its state share of memory_limit (in this process's partitions).",
	}, func() float64 { return float64(s.StateBytes()) })
	nodes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quell_learned_graph_nodes",
		Help: "Graph nodes the correlator learned from alerts (in this process's partitions): each engine learns at most correlate.max_learned_nodes, and once there, entities it has not seen get no learned node.",
	}, func() float64 { return float64(s.LearnedCounts().Nodes) })
	pairs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "quell_cofiring_pairs",
		Help: "Pairs of alert signatures the correlator learned fire together (in this process's partitions): each engine keeps at most correlate.max_cooccurrence, the least counted going first.",
	}, func() float64 { return float64(s.LearnedCounts().Pairs) })
	reg.MustRegister(s.m.decisions, s.m.evictions, open, state, nodes, pairs)
	return s
}

// LearnedCounts sums what every pipeline's engine learned online.
func (s *Set) LearnedCounts() correlate.LearnedCounts {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sum correlate.LearnedCounts
	for _, p := range s.ps {
		l := p.LearnedCounts()
		sum.Nodes += l.Nodes
		sum.Pairs += l.Pairs
	}
	return sum
}

// StateBytes is what every pipeline's engine counts of its state.
func (s *Set) StateBytes() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, p := range s.ps {
		n += p.StateBytes()
	}
	return n
}

// New adds a pipeline under key (a partition; 0 in embedded mode),
// replacing any pipeline the key had.
func (s *Set) New(key int, cfg correlate.Config, ss []sinks.Sink) (*Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := newPipeline(cfg, s.topo, ss, s.m, &s.Outcomes)
	if err != nil {
		return nil, err
	}
	if old := s.ps[key]; old != nil {
		old.release()
	}
	s.ps[key] = p
	return p, nil
}

// Remove drops p from the set, unless its key was taken by another since.
func (s *Set) Remove(key int, p *Pipeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps[key] == p {
		delete(s.ps, key)
	}
	p.release()
}

// SetTopology gives every pipeline, and those made later, topo (see
// Pipeline.SetTopology).
func (s *Set) SetTopology(topo *correlate.Topology) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topo = topo
	for _, p := range s.ps {
		if err := p.SetTopology(topo); err != nil {
			return err
		}
	}
	return nil
}

// Incidents answers q across every pipeline: each gives its first page,
// and the merged order's first, as q takes them, are the answer.
func (s *Set) Incidents(q correlate.Query) []quell.Incident {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []quell.Incident{} // [] rather than null in the API
	for _, p := range s.ps {
		out = append(out, p.Incidents(q)...)
	}
	slices.SortFunc(out, func(a, b quell.Incident) int {
		switch {
		case correlate.CursorOf(a).Before(correlate.CursorOf(b)):
			return -1
		case correlate.CursorOf(b).Before(correlate.CursorOf(a)):
			return 1
		}
		return 0
	})
	return out[:q.Taken(len(out), func(i int) int { return len(out[i].Alerts) })]
}

// Count is how many incidents every pipeline holds with status ("" for all).
func (s *Set) Count(status quell.IncidentStatus) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, p := range s.ps {
		n += p.Count(status)
	}
	return n
}

// Incident finds one incident in any pipeline.
func (s *Set) Incident(id string) (quell.Incident, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.ps {
		if inc, ok := p.Incident(id); ok {
			return inc, true
		}
	}
	return quell.Incident{}, false
}

// Neighbourhood is the graph around incident id, from the pipeline that
// tracks it.
func (s *Set) Neighbourhood(id string) (correlate.Neighbourhood, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.ps {
		var nb correlate.Neighbourhood
		if p.with(func(e *correlate.Engine) bool {
			var ok bool
			nb, ok = e.Neighbourhood(id)
			return ok
		}) {
			return nb, true
		}
	}
	return correlate.Neighbourhood{}, false
}

// Owner finds the partition whose pipeline holds what f acts on: its
// incidents, or the alert it moves. Feedback goes there, in order with
// that partition's alerts. Incidents in two partitions are in two scopes,
// which never share an incident: correlate.ErrConflict.
func (s *Set) Owner(f *quell.Feedback) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	owner := func(holds func(*Pipeline) bool, what string) (int, error) {
		for key, p := range s.ps {
			if holds(p) {
				return key, nil
			}
		}
		return 0, fmt.Errorf("no %s among those the correlators of this process track: %w", what, correlate.ErrUnknown)
	}
	tracks := func(id string) func(*Pipeline) bool {
		return func(p *Pipeline) bool { return p.with(func(e *correlate.Engine) bool { return e.Tracks(id) }) }
	}
	var key int
	var err error
	other := ""
	switch f.Action {
	case quell.FeedbackMove:
		key, err = owner(func(p *Pipeline) bool {
			return p.with(func(e *correlate.Engine) bool { return e.IncidentOf(f.Alert) != "" })
		}, "alert "+f.Alert.String())
		if f.To != quell.MoveToNew {
			other = f.To
		}
	case quell.FeedbackMerge:
		key, err = owner(tracks(f.Incident), "incident "+f.Incident)
		other = f.Into
	default:
		key, err = owner(tracks(f.Incident), "incident "+f.Incident)
	}
	if err != nil || other == "" {
		return key, err
	}
	otherKey, err := owner(tracks(other), "incident "+other)
	if err != nil {
		return 0, err
	}
	if otherKey != key {
		return 0, fmt.Errorf("incident %s is in another correlation scope (partition %d, not %d): incidents of two scopes never merge: %w", other, otherKey, key, correlate.ErrConflict)
	}
	return key, nil
}
