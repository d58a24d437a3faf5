package dedupe

import (
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// Kind classifies one occurrence against what is known of its fingerprint.
type Kind int

const (
	// New: first sight of the alert, or it fires again after it resolved.
	New Kind = iota
	// Repeat: the alert already fires and this is the same episode again
	// (a re-notification); it updates count and last seen, nothing else.
	Repeat
	// Retrigger: the alert already fires but reports a later start: the
	// source saw the condition begin again without announcing a resolve.
	Retrigger
	// Resolve: a firing alert resolved.
	Resolve
	// ResolveRepeat: a resolve for an alert that is already resolved.
	ResolveRepeat
	// ResolveUnknown: a resolve for an alert never seen firing.
	ResolveUnknown
)

func (k Kind) String() string {
	return [...]string{"new", "repeat", "retrigger", "resolve", "resolve-repeat", "resolve-unknown"}[k]
}

// FlapConfig sets flapping detection: an alert flaps once it changed state at
// least Enter times within Window, and stops flapping once its changes within
// Window fall to Leave or fewer. Separate thresholds keep it from toggling.
type FlapConfig struct {
	Window time.Duration `yaml:"window"`
	Enter  int           `yaml:"enter"`
	Leave  int           `yaml:"leave"`
}

// State is what is known of one fingerprint.
type State struct {
	Fingerprint quell.Fingerprint `json:"fingerprint"`
	Status      quell.Status      `json:"status"`
	// StartsAt is the start of the current episode as the source reported it.
	StartsAt  time.Time `json:"startsAt"`
	Count     int       `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Changes are the times of the last state changes still within the
	// flap window: at most Enter of them, all that the thresholds compare.
	Changes  []time.Time `json:"changes,omitempty"`
	Flapping bool        `json:"flapping,omitempty"`
	// ExpiresAt is when a firing alert resolves by itself unless refreshed:
	// the endsAt its source announced (Prometheus, Splunk's resolve timeout).
	ExpiresAt time.Time `json:"expiresAt"`
}

// Tracker holds the state of every fingerprint. It is not safe for
// concurrent use: one correlator goroutine owns it.
type Tracker struct {
	flap   FlapConfig
	states map[quell.Fingerprint]*State
}

func NewTracker(flap FlapConfig) *Tracker {
	return &Tracker{flap: flap, states: make(map[quell.Fingerprint]*State)}
}

// Observe records one occurrence of a at time at and classifies it.
func (t *Tracker) Observe(a *quell.Alert, at time.Time) (Kind, *State) {
	s := t.states[a.Fingerprint]
	if s == nil {
		if a.Status == quell.Resolved {
			return ResolveUnknown, nil
		}
		s = &State{Fingerprint: a.Fingerprint, Status: quell.Firing, StartsAt: a.StartsAt, FirstSeen: at}
		t.states[a.Fingerprint] = s
		s.touch(a, at)
		return New, s
	}
	var k Kind
	switch {
	case a.Status == quell.Firing && s.Status == quell.Resolved:
		k = New
		s.StartsAt = a.StartsAt
		s.Count = 0
		t.change(s, at)
	case a.Status == quell.Firing && a.StartsAt.After(s.StartsAt):
		k = Retrigger
		s.StartsAt = a.StartsAt
	case a.Status == quell.Firing:
		k = Repeat
	case s.Status == quell.Firing:
		k = Resolve
		t.change(s, at)
	default:
		k = ResolveRepeat
	}
	s.Status = a.Status
	s.touch(a, at)
	return k, s
}

func (s *State) touch(a *quell.Alert, at time.Time) {
	s.Count++
	if at.After(s.LastSeen) {
		s.LastSeen = at
	}
	s.ExpiresAt = time.Time{}
	if a.Status == quell.Firing && !a.EndsAt.IsZero() {
		s.ExpiresAt = a.EndsAt
	}
}

// change records a state change and re-evaluates flapping. Only the last
// Enter changes are kept: a count capped at Enter compares with Enter and
// with Leave (below Enter) as the full count would, and an alert toggling
// all day keeps a few times, not hundreds.
func (t *Tracker) change(s *State, at time.Time) {
	if keep := t.flap.Enter; keep > 0 && len(s.Changes) >= keep {
		s.Changes = append(s.Changes[:0], s.Changes[len(s.Changes)-keep+1:]...)
	}
	s.Changes = append(s.Changes, at)
	t.evalFlap(s, at)
}

// evalFlap drops changes older than the window and applies the thresholds.
// It reports whether the flapping status changed.
func (t *Tracker) evalFlap(s *State, now time.Time) bool {
	if t.flap.Window <= 0 {
		return false
	}
	cut := 0
	for cut < len(s.Changes) && now.Sub(s.Changes[cut]) > t.flap.Window {
		cut++
	}
	s.Changes = s.Changes[cut:]
	was := s.Flapping
	switch n := len(s.Changes); {
	case !s.Flapping && n >= t.flap.Enter:
		s.Flapping = true
	case s.Flapping && n <= t.flap.Leave:
		s.Flapping = false
	}
	return was != s.Flapping
}

// Settle re-evaluates flapping of s at now (as time passes without changes)
// and reports whether s stopped flapping.
func (t *Tracker) Settle(s *State, now time.Time) bool {
	return t.evalFlap(s, now) && !s.Flapping
}

// Expire marks s resolved (its announced end passed without a refresh).
func (t *Tracker) Expire(s *State, at time.Time) {
	s.Status = quell.Resolved
	s.ExpiresAt = time.Time{}
	t.change(s, at)
}

// Get returns the state of fp, or nil.
func (t *Tracker) Get(fp quell.Fingerprint) *State { return t.states[fp] }

// Forget drops the state of fp (once nothing can refer to it any more).
func (t *Tracker) Forget(fp quell.Fingerprint) { delete(t.states, fp) }

// Len is the number of fingerprints tracked.
func (t *Tracker) Len() int { return len(t.states) }

// Copy returns a copy of every state, for snapshots taken while the
// tracker goes on changing.
func (t *Tracker) Copy() []*State {
	out := make([]*State, 0, len(t.states))
	for _, s := range t.states {
		c := *s
		c.Changes = slices.Clone(s.Changes)
		out = append(out, &c)
	}
	return out
}

// Restore loads states from a snapshot.
func (t *Tracker) Restore(states []*State) {
	for _, s := range states {
		t.states[s.Fingerprint] = s
	}
}
