package correlate

import (
	"math"
	"time"
)

// spacing learns how far apart alerts start firing in a scope, and which of
// its alertnames fire again at all. Where an alert does, an incident learns
// how often (cadence) and measures a silence against that. Where alerts do
// not (an anomaly detector or a log search reports each finding once),
// nothing tells how long a silence is but the scope's own rhythm: a
// detector that samples every few minutes leaves minutes between a fault's
// alerts, and a fixed time_scale would split each fault into many
// incidents. There time evidence fades on spacedGaps times the typical gap
// between starts. Whether alerts fire again is learned per alertname: a
// scope often holds both kinds (a detector's findings beside a tracer's
// alerts that report every minute), and the second must not hide the
// first's rhythm. Snapshots and state records carry it as it is.
type Spacing struct {
	Last   time.Time `json:"last"`   // the latest start
	LogGap float64   `json:"logGap"` // moving average of ln(seconds) between starts a second or more apart
	Gaps   int       `json:"gaps"`   // such gaps measured
	// Names: the alertnames seen lately, and whether they fire again.
	Names [spacedNames]NameSpacing `json:"names"`
}

// NameSpacing is what one alertname of a scope did lately (see Spacing).
type NameSpacing struct {
	Name uint64 `json:"name,omitempty"` // alertInfo.name; 0: an empty slot
	// Since counts the alertname's starts since one of its alerts last
	// fired again, at Repeated (to the second: a repeat changes the state
	// once a second); Seen is its latest start or repeat.
	Since    int       `json:"since,omitempty"`
	Repeated time.Time `json:"repeated,omitzero"`
	Seen     time.Time `json:"seen,omitzero"`
}

const (
	// spacedGaps: the gaps between starts that a silence may last, on the
	// scale of time evidence (half as much evidence then as at once).
	spacedGaps = 4
	// spacedAfter: starts of an alertname since one of its alerts last
	// fired again before it counts as reporting once: an alert that repeats
	// does so within its first report interval, before as many starts.
	spacedAfter = 16
	// gapWeight: each gap's share of the moving average.
	gapWeight = 1.0 / 64
	// spacedNames: the alertnames a scope follows, the latest seen; one
	// past them counts as firing again until it started spacedAfter times.
	spacedNames = 16
)

// start notes an alert named name starting to fire at at. Starts on one
// second are one batch (an evaluation's), not a gap.
func (s *Spacing) start(at time.Time, name uint64) {
	if g := at.Sub(s.Last); !s.Last.IsZero() && g >= time.Second {
		l := math.Log(g.Seconds())
		if s.Gaps == 0 {
			s.LogGap = l
		} else {
			s.LogGap += (l - s.LogGap) * gapWeight
		}
		s.Gaps++
	}
	s.Last = at
	n := s.name(name)
	if at.Sub(n.Seen) >= time.Second { // as above: a batch counts once
		n.Since++
	}
	n.Seen = at
}

// repeat notes an alert named name firing again at at; it tells whether
// the state changed.
func (s *Spacing) repeat(at time.Time, name uint64) bool {
	t := at.Truncate(time.Second)
	n := s.name(name)
	if n.Since == 0 && t.Equal(n.Repeated) {
		return false
	}
	n.Since, n.Repeated, n.Seen = 0, t, t
	return true
}

// slot is name's slot, or nil.
func (s *Spacing) slot(name uint64) *NameSpacing {
	for i := range s.Names {
		if s.Names[i].Name == name {
			return &s.Names[i]
		}
	}
	return nil
}

// name is name's slot, taken from the alertname seen least lately (the
// first of them) when it has none.
func (s *Spacing) name(name uint64) *NameSpacing {
	if n := s.slot(name); n != nil {
		return n
	}
	oldest := 0
	for i := range s.Names {
		if s.Names[i].Seen.Before(s.Names[oldest].Seen) {
			oldest = i
		}
	}
	s.Names[oldest] = NameSpacing{Name: name}
	return &s.Names[oldest]
}

// scale is the time scale at at for an incident with no report interval
// and an alert named name: spacedGaps typical gaps where no alert of that
// name fired again for window and since then at least spacedAfter started;
// 0 otherwise.
func (s *Spacing) scale(at time.Time, window time.Duration, name uint64) time.Duration {
	if n := s.slot(name); n == nil || n.Since < spacedAfter || at.Sub(n.Repeated) <= window {
		return 0
	}
	return s.gap() * spacedGaps
}

// gap is the typical gap between starts (the geometric mean of the recent ones).
func (s *Spacing) gap() time.Duration {
	return time.Duration(math.Exp(s.LogGap) * float64(time.Second))
}
