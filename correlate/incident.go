package correlate

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

type incident struct {
	id           string
	scope        *scope
	status       quell.IncidentStatus
	title        string
	severity     quell.Severity
	created      time.Time
	updated      time.Time
	resolvedAt   time.Time
	lastActivity time.Time
	members      map[quell.Fingerprint]*quell.IncidentAlert
	order        []quell.Fingerprint // join order, for stable output
	firing       int                 // members firing, flapping ones included
	tokens       map[uint64]struct{} // link label values seen on members
	nodes        bitset              // topology nodes touched by members
	seq          uint64
	// announced: its creation went out. Until then (GroupWait) it may merge
	// into an older incident, and none of its changes leave the engine.
	announced   bool
	reopened    bool
	evicted     bool
	dirty       bool      // an update waits for EmitUpdates
	dirtyAt     time.Time // the time of that update
	mergedInto  *incident
	mergeReason string
}

// final follows merges to the incident inc ended up in.
func (inc *incident) final() *incident {
	for inc.mergedInto != nil {
		inc = inc.mergedInto
	}
	return inc
}

// incidentID is derived from what opened the incident, so replays of the same
// input name the same incidents.
func incidentID(first quell.Fingerprint, at time.Time) string {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(uint64(first) >> (8 * i))
		b[8+i] = byte(uint64(at.UnixNano()) >> (8 * i))
	}
	return fmt.Sprintf("%016x", xxhash.Sum64(b[:]))
}

func (e *Engine) newIncident(sc *scope, a *quell.Alert, at time.Time) *incident {
	inc := &incident{
		id:       incidentID(a.Fingerprint, at),
		scope:    sc,
		status:   quell.IncidentOpen,
		title:    title(a),
		created:  at,
		updated:  at,
		members:  make(map[quell.Fingerprint]*quell.IncidentAlert),
		tokens:   make(map[uint64]struct{}),
		severity: a.Severity,
	}
	if e.topo != nil {
		inc.nodes = newBitset(e.topo.Len())
	}
	e.incidents[inc.id] = inc
	sc.active = append(sc.active, inc)
	e.schedule(timer{at: at.Add(e.cfg.GroupWait), kind: timerAnnounce, inc: inc})
	return inc
}

// title names an incident after the alert that opened it.
func title(a *quell.Alert) string {
	name := a.Labels["alertname"]
	if name == "" {
		name = a.Annotations["summary"]
	}
	if name == "" {
		name = "alert from " + a.Source
	}
	for _, k := range []string{"service", "job", "instance", "host", "pod", "namespace"} {
		if v := a.Labels[k]; v != "" {
			return name + " on " + v
		}
	}
	return name
}

// add makes a a firing member of inc (or refreshes it) and indexes its links.
func (e *Engine) add(inc *incident, a *quell.Alert, at time.Time, info *alertInfo, reason string) {
	m := inc.members[a.Fingerprint]
	if m == nil {
		m = &quell.IncidentAlert{Fingerprint: a.Fingerprint, Reason: reason}
		inc.members[a.Fingerprint] = m
		inc.order = append(inc.order, a.Fingerprint)
	}
	if m.Status != quell.Firing {
		inc.firing++
	}
	m.Source, m.Status, m.Labels = a.Source, quell.Firing, a.Labels
	m.StartsAt, m.EndsAt = a.StartsAt, a.EndsAt
	m.Count++
	m.LastSeen = at
	for _, t := range info.tokens {
		inc.tokens[t] = struct{}{}
	}
	for _, n := range info.nodes {
		inc.nodes.add(n)
	}
	if a.Severity.Rank() > inc.severity.Rank() {
		inc.severity = a.Severity
	}
	e.byAlert[a.Fingerprint] = inc
	inc.lastActivity = at
	inc.updated = at
}

// remove takes fp out of inc (it moved to another incident).
func (e *Engine) remove(inc *incident, fp quell.Fingerprint, at time.Time) {
	m := inc.members[fp]
	if m == nil {
		return
	}
	if m.Status == quell.Firing {
		inc.firing--
	}
	delete(inc.members, fp)
	inc.order = slices.DeleteFunc(inc.order, func(f quell.Fingerprint) bool { return f == fp })
	inc.updated = at
	e.change(inc, quell.IncidentUpdated, at)
	e.maybeResolve(inc, at)
}

// maybeResolve starts the resolve hold once no member fires.
func (e *Engine) maybeResolve(inc *incident, at time.Time) {
	if inc.status == quell.IncidentOpen && inc.firing == 0 {
		e.schedule(timer{at: at.Add(e.cfg.ResolveHold), kind: timerResolve, inc: inc})
	}
}

// change emits an incident's change. Updates (an alert joined, resolved or
// left) are coalesced until EmitUpdates: a storm of joins makes one update
// per incident and batch, not one copy of a growing incident per alert.
// Every change carries the whole incident, so a coalesced update loses
// nothing, and a later change of another kind supersedes it.
func (e *Engine) change(inc *incident, kind quell.ChangeKind, at time.Time) {
	if !inc.announced {
		return // its creation, when announced, carries the state so far
	}
	if kind == quell.IncidentUpdated {
		if !inc.dirty {
			inc.dirty = true
			e.dirty = append(e.dirty, inc)
		}
		inc.dirtyAt = at
		return
	}
	inc.dirty = false
	e.emitChange(inc, kind, at)
}

func (e *Engine) emitChange(inc *incident, kind quell.ChangeKind, at time.Time) {
	inc.seq++
	if e.out.Change != nil {
		e.out.Change(quell.IncidentChange{Kind: kind, Incident: inc.view(), Seq: inc.seq, At: at})
	}
}

// EmitUpdates emits one update for every incident changed since the last
// call; callers call it after each batch of alerts (Flush does too).
func (e *Engine) EmitUpdates() {
	for _, inc := range e.dirty {
		if inc.dirty && inc.mergedInto == nil && !inc.evicted {
			inc.dirty = false
			e.emitChange(inc, quell.IncidentUpdated, inc.dirtyAt)
		}
	}
	clear(e.dirty)
	e.dirty = e.dirty[:0]
}

// view copies the incident for readers outside the engine.
func (inc *incident) view() quell.Incident {
	v := quell.Incident{
		ID: inc.id, Status: inc.status, Title: inc.title, Severity: inc.severity,
		CreatedAt: inc.created, UpdatedAt: inc.updated, ResolvedAt: inc.resolvedAt,
		Alerts: make([]quell.IncidentAlert, 0, len(inc.order)),
	}
	for _, fp := range inc.order {
		v.Alerts = append(v.Alerts, *inc.members[fp])
	}
	return v
}

// Incidents returns the incidents quell still holds, newest first, filtered
// by status when status is not empty.
func (e *Engine) Incidents(status quell.IncidentStatus) []quell.Incident {
	out := make([]quell.Incident, 0, len(e.incidents))
	for _, inc := range e.incidents {
		if status == "" || inc.status == status {
			out = append(out, inc.view())
		}
	}
	slices.SortFunc(out, func(a, b quell.Incident) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Incident returns one incident by id.
func (e *Engine) Incident(id string) (quell.Incident, bool) {
	inc, ok := e.incidents[id]
	if !ok {
		return quell.Incident{}, false
	}
	return inc.view(), true
}

// merge moves every member of src into dst; src ceases to exist, and held
// decisions that named it will name dst.
func (e *Engine) merge(dst, src *incident, at time.Time, reason string) {
	for _, fp := range src.order {
		m := src.members[fp]
		if have := dst.members[fp]; have != nil {
			have.Count += m.Count
			if m.Status == quell.Firing && have.Status != quell.Firing {
				have.Status = quell.Firing
				dst.firing++
			}
		} else {
			dst.members[fp] = m
			dst.order = append(dst.order, fp)
			if m.Status == quell.Firing {
				dst.firing++
			}
		}
		if e.byAlert[fp] == src {
			e.byAlert[fp] = dst
		}
	}
	for t := range src.tokens {
		dst.tokens[t] = struct{}{}
	}
	for i := range src.nodes {
		dst.nodes[i] |= src.nodes[i]
	}
	if src.severity.Rank() > dst.severity.Rank() {
		dst.severity = src.severity
	}
	if src.lastActivity.After(dst.lastActivity) {
		dst.lastActivity = src.lastActivity
	}
	dst.updated = at
	src.mergedInto, src.mergeReason = dst, reason
	delete(e.incidents, src.id)
	e.change(dst, quell.IncidentUpdated, at)
}
