package clickhouse

import "github.com/quellhq/quell"

// memberLog remembers which incident members are stored, so that the Sink
// writes each member once rather than once per change of its incident
// (an incident of n alerts has about n changes, each listing all of them).
type memberLog map[string]map[quell.Fingerprint]struct{}

// maxLogged bounds the incidents remembered; past it the log starts over,
// which only costs rewriting members that are already stored.
const maxLogged = 100_000

func (l memberLog) has(id string, fp quell.Fingerprint) bool {
	_, ok := l[id][fp]
	return ok
}

func (l memberLog) add(id string, fp quell.Fingerprint) {
	m := l[id]
	if m == nil {
		m = map[quell.Fingerprint]struct{}{}
		l[id] = m
	}
	m[fp] = struct{}{}
}

// stored notes the members of cs as written; resolved incidents are
// forgotten (a reopened one writes its members again, harmlessly).
func (l memberLog) stored(cs []quell.IncidentChange) {
	if len(l) > maxLogged {
		clear(l)
	}
	for i := range cs {
		inc := &cs[i].Incident
		if cs[i].Kind == quell.IncidentResolve {
			delete(l, inc.ID)
			continue
		}
		for _, m := range inc.Alerts {
			l.add(inc.ID, m.Fingerprint)
		}
	}
}
