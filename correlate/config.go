package correlate

import (
	"fmt"
	"time"

	"github.com/quellhq/quell/dedupe"
)

// Config sets how alerts cluster into incidents and how incidents live.
type Config struct {
	// Window: an incident takes new alerts while its last activity is at
	// most this old. Within it, evidence decides (see JoinScore).
	Window time.Duration `yaml:"window"`
	// TimeScale sets how fast the evidence of time fades: an alert this long
	// after an incident's last activity counts about half as much time
	// evidence as one at once, and it keeps fading (no cliff).
	TimeScale time.Duration `yaml:"time_scale"`
	// JoinScore: an alert joins the open incident it scores highest with
	// when that score (0 to 1) is at least this; else it opens an incident.
	JoinScore float64 `yaml:"join_score"`
	// GroupWait: decisions about an incident this young are held this long
	// before they go out, and its creation is announced only then: until
	// then, an alert that links it to another young incident merges the two
	// without a record or a ticket naming the one that merged away.
	GroupWait time.Duration `yaml:"group_wait"`
	// ScopeLabels partition alerts: alerts whose values differ never meet.
	// The scope is also the Kafka partition key of quell.alerts.
	ScopeLabels []string `yaml:"scope_labels"`
	// EntityLabels name what an alert is about (a service, pod, host...):
	// alerts sharing a value are related, the more so the rarer the value.
	// A value names one entity under any of them ("host=db-1" and
	// "instance=db-1:9100"); a pod name also names its workload.
	EntityLabels []string `yaml:"entity_labels"`
	// TopologyLabels: label values looked up as nodes of the service graph
	// (the topology file, and what quell learns from the alerts).
	TopologyLabels []string `yaml:"topology_labels"`
	// MaxHops: graph distance counts as evidence up to this many edges,
	// less with every hop.
	MaxHops int `yaml:"max_hops"`
	// MaxLearnedNodes bounds the graph quell learns from alerts (callers and
	// callees, services and the hosts they run on); once reached, the nodes
	// no incident holds make room (see graph.compact); 0 turns learning off.
	MaxLearnedNodes int `yaml:"max_learned_nodes"`
	// MaxCooccurrence bounds the learned pairs of alert signatures that fired
	// together; past it the counts halve and the least counted pairs go.
	MaxCooccurrence int `yaml:"max_cooccurrence"`
	// MaxAlerts and MaxAge cap an incident: once reached it takes no new
	// alerts. A detector that reports each finding as an alert of its own
	// raises well over a thousand in one big fault: 2,000 keeps such a
	// problem in one incident (see the README's quality section), and an
	// incident change, which carries every alert, well within the 16 MiB
	// quell.incidents takes.
	MaxAlerts int           `yaml:"max_alerts"`
	MaxAge    time.Duration `yaml:"max_age"`
	// MaxIncidents and MaxTrackedAlerts bound the correlator's memory: beyond
	// them the incident that went longest without activity is evicted, with
	// a decision record saying so.
	MaxIncidents     int `yaml:"max_incidents"`
	MaxTrackedAlerts int `yaml:"max_tracked_alerts"`
	// MaxStateBytes bounds the bytes its incidents' alerts hold (labels and
	// annotations, estimated) the same way; 0 for no bound. quell sets it
	// from memory_limit.
	MaxStateBytes int64 `yaml:"-"`
	// StateBudget, when set, makes MaxStateBytes the bound of every engine
	// sharing it together (see StateBudget); nil: of this engine alone.
	StateBudget *StateBudget `yaml:"-"`
	// MaxHeldDecisions bounds the decisions held for GroupWait (see
	// Engine.decide); in a storm beyond it the oldest are emitted early.
	MaxHeldDecisions int `yaml:"max_held_decisions"`
	// ResolveHold: an incident whose alerts all resolved closes after this
	// long without a new firing.
	ResolveHold time.Duration `yaml:"resolve_hold"`
	// ReopenWindow: a member firing again within this long after its incident
	// closed may reopen it; later it starts a new incident.
	ReopenWindow time.Duration     `yaml:"reopen_window"`
	Flapping     dedupe.FlapConfig `yaml:"flapping"`
}

// DefaultConfig is what quell uses when the config file says nothing. The
// grouping defaults are chosen on many generated systems and checked on
// real ones (see bench/quality); none is fitted to one data set.
func DefaultConfig() Config {
	return Config{
		Window:           10 * time.Minute,
		TimeScale:        30 * time.Second,
		JoinScore:        0.5,
		GroupWait:        30 * time.Second,
		ScopeLabels:      []string{"cluster"},
		EntityLabels:     []string{"pod", "pod_name", "deployment", "kube_deployment", "container", "service", "peer_service", "host", "node", "instance", "job", "namespace"},
		TopologyLabels:   []string{"pod", "pod_name", "deployment", "kube_deployment", "container", "service", "peer_service", "host", "node", "instance"},
		MaxHops:          4,
		MaxLearnedNodes:  50000,
		MaxCooccurrence:  100000,
		MaxAlerts:        2000,
		MaxAge:           24 * time.Hour,
		MaxIncidents:     20000,
		MaxTrackedAlerts: 500000,
		MaxHeldDecisions: 10000,
		ResolveHold:      2 * time.Minute,
		ReopenWindow:     time.Minute,
		Flapping:         dedupe.FlapConfig{Window: 20 * time.Minute, Enter: 6, Leave: 2},
	}
}

// Validate names the first field that cannot work.
func (c *Config) Validate() error {
	pos := []struct {
		name string
		d    time.Duration
	}{
		{"correlate.window", c.Window}, {"correlate.time_scale", c.TimeScale},
		{"correlate.max_age", c.MaxAge}, {"correlate.flapping.window", c.Flapping.Window},
	}
	for _, p := range pos {
		if p.d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", p.name, p.d)
		}
	}
	switch {
	case c.GroupWait < 0 || c.ResolveHold < 0 || c.ReopenWindow < 0:
		return fmt.Errorf("correlate.group_wait, resolve_hold and reopen_window must not be negative")
	case c.JoinScore <= 0 || c.JoinScore >= 1:
		return fmt.Errorf("correlate.join_score must be between 0 and 1 (exclusive), got %g", c.JoinScore)
	case c.MaxHops < 0 || c.MaxHops > 8:
		return fmt.Errorf("correlate.max_hops must be between 0 and 8, got %d", c.MaxHops)
	case c.MaxLearnedNodes < 0 || c.MaxCooccurrence < 0:
		return fmt.Errorf("correlate.max_learned_nodes and max_cooccurrence must not be negative")
	case c.MaxAlerts < 1:
		return fmt.Errorf("correlate.max_alerts must be at least 1, got %d", c.MaxAlerts)
	case c.MaxIncidents < 1 || c.MaxTrackedAlerts < 1 || c.MaxHeldDecisions < 1:
		return fmt.Errorf("correlate.max_incidents, max_tracked_alerts and max_held_decisions must be at least 1, got %d, %d and %d",
			c.MaxIncidents, c.MaxTrackedAlerts, c.MaxHeldDecisions)
	case c.Flapping.Enter < 2 || c.Flapping.Leave < 0 || c.Flapping.Leave >= c.Flapping.Enter:
		return fmt.Errorf("correlate.flapping: want enter >= 2 and 0 <= leave < enter, got enter %d leave %d", c.Flapping.Enter, c.Flapping.Leave)
	}
	return nil
}
