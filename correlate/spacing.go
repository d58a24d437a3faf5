package correlate

import (
	"math"
	"time"
)

// spacing learns how far apart alerts start firing in a scope, and whether
// its alerts fire again at all. Where they do, an incident learns how often
// (cadence) and measures a silence against that. Where they do not (an
// anomaly detector or a log search reports each finding once), nothing
// tells how long a silence is but the scope's own rhythm: a detector that
// samples every few minutes leaves minutes between a fault's alerts, and
// a fixed time_scale would split each fault into many incidents. There
// time evidence fades on spacedGaps times the typical gap between starts.
// Snapshots and state records carry it as it is.
type Spacing struct {
	Last   time.Time `json:"last"`   // the latest start
	LogGap float64   `json:"logGap"` // moving average of ln(seconds) between starts a second or more apart
	Gaps   int       `json:"gaps"`   // such gaps measured
	// Since counts the gaps measured since an alert last fired again, at
	// Repeated (to the second: a repeat changes the state once a second).
	Since    int       `json:"since,omitempty"`
	Repeated time.Time `json:"repeated,omitzero"`
}

const (
	// spacedGaps: the gaps between starts that a silence may last, on the
	// scale of time evidence (half as much evidence then as at once).
	spacedGaps = 4
	// spacedAfter: starts measured since an alert last fired again before
	// a scope's spacing counts: a scope whose alerts repeat does so
	// within its first report interval, before as many starts.
	spacedAfter = 16
	// gapWeight: each gap's share of the moving average.
	gapWeight = 1.0 / 64
)

// start notes an alert starting to fire at at. Starts on one second are
// one batch (an evaluation's), not a gap.
func (s *Spacing) start(at time.Time) {
	if g := at.Sub(s.Last); !s.Last.IsZero() && g >= time.Second {
		l := math.Log(g.Seconds())
		if s.Gaps == 0 {
			s.LogGap = l
		} else {
			s.LogGap += (l - s.LogGap) * gapWeight
		}
		s.Gaps++
		s.Since++
	}
	s.Last = at
}

// repeat notes an alert firing again at at; it tells whether the state
// changed.
func (s *Spacing) repeat(at time.Time) bool {
	t := at.Truncate(time.Second)
	if s.Since == 0 && t.Equal(s.Repeated) {
		return false
	}
	s.Since, s.Repeated = 0, t
	return true
}

// scale is the time scale for an incident with no report interval at at:
// spacedGaps typical gaps where the scope's alerts have not fired again for
// window and since then at least spacedAfter started; 0 otherwise.
func (s *Spacing) scale(at time.Time, window time.Duration) time.Duration {
	if s.Since < spacedAfter || at.Sub(s.Repeated) <= window {
		return 0
	}
	return s.gap() * spacedGaps
}

// gap is the typical gap between starts (the geometric mean of the recent ones).
func (s *Spacing) gap() time.Duration {
	return time.Duration(math.Exp(s.LogGap) * float64(time.Second))
}
