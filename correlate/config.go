package correlate

import (
	"fmt"
	"time"

	"github.com/quellhq/quell/dedupe"
)

// Config sets how alerts cluster into incidents and how incidents live.
type Config struct {
	// Window: an incident takes related alerts while its last activity is
	// at most this old.
	Window time.Duration `yaml:"window"`
	// GroupWindow: for this long after it opened, an incident takes every
	// related alert at once: the first minute of a storm is one problem.
	GroupWindow time.Duration `yaml:"group_window"`
	// GroupWait: decisions about an incident this young are held this long
	// before they go out, and its creation is announced only then: until
	// then, an alert that links it to another young incident merges the two
	// without a record or a ticket naming the one that merged away.
	GroupWait time.Duration `yaml:"group_wait"`
	// BurstWait: after the grouping window, related alerts wait this long
	// before their decision, to see whether they are a burst of their own.
	BurstWait time.Duration `yaml:"burst_wait"`
	// BurstMin: that many related alerts within BurstWait, arriving after an
	// incident's grouping window, open a new incident: a second problem that
	// started while the first one was still open. Fewer join the incident.
	BurstMin int `yaml:"burst_min"`
	// ScopeLabels partition alerts: alerts whose values differ never meet.
	// The scope is also the Kafka partition key of quell.alerts.
	ScopeLabels []string `yaml:"scope_labels"`
	// LinkLabels: alerts that share the value of one of these labels are related.
	LinkLabels []string `yaml:"link_labels"`
	// TopologyLabels: label values looked up as topology nodes.
	TopologyLabels []string `yaml:"topology_labels"`
	// Hops: alerts on topology nodes at most this many edges apart are related.
	Hops int `yaml:"hops"`
	// MaxAlerts and MaxAge cap an incident: once reached it takes no new alerts.
	MaxAlerts int           `yaml:"max_alerts"`
	MaxAge    time.Duration `yaml:"max_age"`
	// MaxIncidents and MaxTrackedAlerts bound the correlator's memory: beyond
	// them the incident that went longest without activity is evicted, with
	// a decision record saying so.
	MaxIncidents     int `yaml:"max_incidents"`
	MaxTrackedAlerts int `yaml:"max_tracked_alerts"`
	// MaxHeldDecisions bounds the decisions held for GroupWait (see
	// Engine.decide); in a storm beyond it the oldest are emitted early.
	MaxHeldDecisions int `yaml:"max_held_decisions"`
	// ResolveHold: an incident whose alerts all resolved closes after this
	// long without a new firing.
	ResolveHold time.Duration `yaml:"resolve_hold"`
	// ReopenWindow: a member firing again within this long after its incident
	// closed reopens it; later it starts a new incident.
	ReopenWindow time.Duration     `yaml:"reopen_window"`
	Flapping     dedupe.FlapConfig `yaml:"flapping"`
}

// DefaultConfig is what quell uses when the config file says nothing.
func DefaultConfig() Config {
	return Config{
		Window:           5 * time.Minute,
		GroupWindow:      30 * time.Second,
		GroupWait:        10 * time.Second,
		BurstWait:        10 * time.Second,
		BurstMin:         20,
		ScopeLabels:      []string{"cluster"},
		LinkLabels:       []string{"service", "job", "namespace", "host", "instance", "pod", "node"},
		TopologyLabels:   []string{"service", "peer_service", "instance", "host", "node", "pod", "container", "deployment"},
		Hops:             2,
		MaxAlerts:        1000,
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
		{"correlate.window", c.Window}, {"correlate.group_window", c.GroupWindow},
		{"correlate.max_age", c.MaxAge}, {"correlate.flapping.window", c.Flapping.Window},
	}
	for _, p := range pos {
		if p.d <= 0 {
			return fmt.Errorf("%s must be positive, got %s", p.name, p.d)
		}
	}
	switch {
	case c.GroupWait < 0 || c.BurstWait < 0 || c.ResolveHold < 0 || c.ReopenWindow < 0:
		return fmt.Errorf("correlate.group_wait, burst_wait, resolve_hold and reopen_window must not be negative")
	case c.GroupWindow > c.Window:
		return fmt.Errorf("correlate.group_window (%s) must not exceed correlate.window (%s)", c.GroupWindow, c.Window)
	case c.BurstMin < 1:
		return fmt.Errorf("correlate.burst_min must be at least 1, got %d", c.BurstMin)
	case c.Hops < 0:
		return fmt.Errorf("correlate.hops must not be negative, got %d", c.Hops)
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
