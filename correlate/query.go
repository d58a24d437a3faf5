package correlate

import (
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// Query asks for incidents newest first (by creation, then id): those with
// Status ("" for all) and an alert whose labels Labels accepts (nil: any)
// that come after the cursor After, as Taken takes them: at most Limit (all
// when 0), and at most MaxAlerts member alerts in all (no bound when 0) and
// the incident after them. Only those are copied out of the engine.
type Query struct {
	Status    quell.IncidentStatus
	Labels    func(map[string]string) bool
	After     Cursor
	Limit     int
	MaxAlerts int
}

// Holds tells whether one of alerts has labels q.Labels accepts.
func (q Query) Holds(alerts []quell.IncidentAlert) bool {
	if q.Labels == nil {
		return true
	}
	for i := range alerts {
		if q.Labels(alerts[i].Labels) {
			return true
		}
	}
	return false
}

// Page is how many of n ordered incidents, of alerts(i) alerts each, make
// a page of q: at most Limit, and none that would take the page past
// MaxAlerts alerts (the first whatever its size).
func (q Query) Page(n int, alerts func(i int) int) int {
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	sum := 0
	for i := range n {
		if sum += alerts(i); q.MaxAlerts > 0 && i > 0 && sum > q.MaxAlerts {
			return i
		}
	}
	return n
}

// Taken is how many of them a source returns: the page and, when MaxAlerts
// ended it, the incident after it, so that the caller can tell whether
// another page follows (for Limit, it asks for one more).
func (q Query) Taken(n int, alerts func(i int) int) int {
	k := q.Page(n, alerts)
	if k < n && (q.Limit <= 0 || k < q.Limit) {
		k++
	}
	return k
}

// Cursor is an incident's place in the newest-first order; the zero Cursor
// is the place before the newest.
type Cursor struct {
	Created time.Time
	ID      string
}

// CursorOf is inc's place.
func CursorOf(inc quell.Incident) Cursor { return Cursor{inc.CreatedAt, inc.ID} }

// Before reports whether c comes before d, newest first.
func (c Cursor) Before(d Cursor) bool {
	if c.Created.IsZero() && c.ID == "" {
		return !(d.Created.IsZero() && d.ID == "")
	}
	if !c.Created.Equal(d.Created) {
		return c.Created.After(d.Created)
	}
	return c.ID < d.ID
}

// Incidents answers q.
func (e *Engine) Incidents(q Query) []quell.Incident {
	var match []*incident
	for _, inc := range e.incidents {
		if (q.Status == "" || inc.status == q.Status) && q.After.Before(Cursor{inc.created, inc.id}) && e.holds(q, inc) {
			match = append(match, inc)
		}
	}
	slices.SortFunc(match, func(a, b *incident) int {
		if before(b, a) { // newer first
			return -1
		}
		if before(a, b) {
			return 1
		}
		return 0
	})
	match = match[:q.Taken(len(match), func(i int) int { return len(match[i].order) })]
	out := make([]quell.Incident, len(match))
	for i, inc := range match {
		out[i] = e.view(inc)
	}
	return out
}

func (e *Engine) holds(q Query, inc *incident) bool {
	if q.Labels == nil {
		return true
	}
	for _, m := range inc.members {
		if q.Labels(m.Labels) {
			return true
		}
	}
	return false
}

// Count is how many incidents have status ("" for all).
func (e *Engine) Count(status quell.IncidentStatus) int {
	n := 0
	for _, inc := range e.incidents {
		if status == "" || inc.status == status {
			n++
		}
	}
	return n
}

// Tracks tells whether the engine holds incident id (open, or resolved
// within the reopen window): feedback can act on it.
func (e *Engine) Tracks(id string) bool { return e.incidents[id] != nil }

// IncidentOf is the id of the incident alert fp is in ("" for none).
func (e *Engine) IncidentOf(fp quell.Fingerprint) string {
	if inc := e.incidentOf(fp); inc != nil {
		return inc.id
	}
	return ""
}
