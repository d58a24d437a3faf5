package correlate

import (
	"time"

	"github.com/quellhq/quell"
)

// mergedAway remembers incidents that merged into another before they were
// announced (one alert linked it to another while it was young, or a person
// merged them). No sink heard of them, but the console and the API list
// young incidents, so a person may hold the id of one: it still answers,
// resolved and naming the incident its alerts went to. The latest
// maxMergedAway are kept, in memory only.
type mergedAway struct {
	byID  map[string]awayIncident
	order []string // oldest first
}

type awayIncident struct {
	view quell.Incident // without its alerts, which went on
	into *incident
}

const maxMergedAway = 4096

func (m *mergedAway) note(src, dst *incident, at time.Time) {
	if m.byID == nil {
		m.byID = map[string]awayIncident{}
	}
	m.byID[src.id] = awayIncident{into: dst, view: quell.Incident{
		ID: src.id, Status: quell.IncidentResolved, Title: src.title, Severity: src.severity,
		CreatedAt: src.created, UpdatedAt: at, ResolvedAt: at,
	}}
	m.order = append(m.order, src.id)
	if len(m.order) > maxMergedAway {
		delete(m.byID, m.order[0])
		m.order = m.order[1:]
	}
}

// get returns the incident id named, as merged into the incident its
// alerts are in now.
func (m *mergedAway) get(id string) (quell.Incident, bool) {
	a, ok := m.byID[id]
	if !ok {
		return quell.Incident{}, false
	}
	a.view.MergedInto = a.into.final().id
	return a.view, true
}
