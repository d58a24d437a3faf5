package correlate

import (
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// Query asks for incidents newest first (by creation, then id): those with
// Status ("" for all) that come after the cursor After, at most Limit (all
// when Limit is 0), and none once those before hold more than MaxAlerts
// member alerts (no bound when 0; the first two always): one incident more
// than a page of at most MaxAlerts alerts holds, so that the caller knows
// whether another page follows. Only the page is copied out of the engine.
type Query struct {
	Status    quell.IncidentStatus
	After     Cursor
	Limit     int
	MaxAlerts int
}

// Taken is how many of n ordered incidents q takes, given each one's
// number of alerts (see Query).
func (q Query) Taken(n int, alerts func(i int) int) int {
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	if q.MaxAlerts <= 0 {
		return n
	}
	sum := 0
	for i := range n {
		if i >= 2 && sum > q.MaxAlerts {
			return i
		}
		sum += alerts(i)
	}
	return n
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
		if (q.Status == "" || inc.status == q.Status) && q.After.Before(Cursor{inc.created, inc.id}) {
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
		out[i] = inc.view()
	}
	return out
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
