package correlate

import (
	"cmp"
	"slices"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// Snapshot is the engine's whole state, for restoring it after a restart.
type Snapshot struct {
	Now       time.Time       `json:"now"`
	Incidents []IncidentState `json:"incidents"`
	Alerts    []*dedupe.State `json:"alerts"`
	// Learned is what the engine learned from alerts: graph and co-firing.
	Learned Learned `json:"learned"`
	// Held are decisions made but not yet emitted (see Engine.decide).
	Held []HeldDecision `json:"held,omitempty"`
	// Input is where in its input the state stands, for the caller (the
	// embedded mode's journal position); the engine does not use it.
	Input int64 `json:"input,omitempty"`
}

// HeldDecision is a decision waiting out GroupWait, with the incident it names.
type HeldDecision struct {
	Decision quell.Decision `json:"decision"`
	Incident string         `json:"incident,omitempty"`
}

// IncidentState is one incident with what the index needs; the values and
// nodes it is filed under are rebuilt from its members.
type IncidentState struct {
	quell.Incident
	Scope        uint64        `json:"scope"`
	LastActivity time.Time     `json:"lastActivity"`
	Seq          uint64        `json:"seq"`
	Announced    bool          `json:"announced"`
	Reopened     bool          `json:"reopened,omitempty"`
	Cadence      time.Duration `json:"cadence,omitempty"`
	// Sigs are the alert signatures it weighs co-firing against.
	Sigs []uint64 `json:"sigs,omitempty"`
}

// Learned is what an engine learned online, so that a restart continues
// as if it never stopped.
type Learned struct {
	Graph   GraphState   `json:"graph"`
	Cooccur CooccurState `json:"cooccur"`
	// Recent are the signatures each scope saw start firing lately.
	Recent []ScopeSignatures `json:"recent,omitempty"`
}

// ScopeSignatures are one scope's recent signatures, oldest first.
type ScopeSignatures struct {
	Scope uint64      `json:"scope"`
	Sigs  []uint64    `json:"sigs"`
	At    []time.Time `json:"at"`
}

// Snapshot captures the engine's state.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{Now: e.now, Alerts: e.tracker.Copy()}
	for _, inc := range e.incidents {
		is := IncidentState{Incident: e.view(inc), Scope: inc.scope.key, LastActivity: inc.lastActivity,
			Seq: inc.seq, Announced: inc.announced, Reopened: inc.reopened, Cadence: inc.cadence, Sigs: slices.Clone(inc.sigOrder)}
		is.Title = inc.title // the opening alert's; the summary is made from the members as they are
		s.Incidents = append(s.Incidents, is)
	}
	slices.SortFunc(s.Incidents, byCreation)
	for _, h := range e.held[e.heldHead:] {
		s.Held = append(s.Held, HeldDecision{Decision: h.d, Incident: h.inc.final().id})
	}
	s.Learned = Learned{Graph: e.graph.state(), Cooccur: e.co.state()}
	for _, sc := range e.scopes {
		if len(sc.recentSigs) == 0 {
			continue
		}
		ss := ScopeSignatures{Scope: sc.key}
		for _, r := range sc.recentSigs {
			ss.Sigs = append(ss.Sigs, r.sig)
			ss.At = append(ss.At, r.at)
		}
		s.Learned.Recent = append(s.Learned.Recent, ss)
	}
	slices.SortFunc(s.Learned.Recent, func(a, b ScopeSignatures) int { return cmp.Compare(a.Scope, b.Scope) })
	return s
}

// Restore loads a snapshot into a new engine and re-arms its deadlines.
func (e *Engine) Restore(s Snapshot) {
	e.now = s.Now
	e.tracker.Restore(s.Alerts)
	e.graph.restore(s.Learned.Graph)
	e.co.restore(s.Learned.Cooccur)
	for _, rs := range s.Learned.Recent {
		sc := e.scope(rs.Scope)
		for i, sig := range rs.Sigs {
			if i < len(rs.At) {
				sc.recentSigs = append(sc.recentSigs, recentSig{sig, rs.At[i]})
			}
		}
	}
	incs := slices.Clone(s.Incidents)
	slices.SortFunc(incs, byCreation)
	var restored []*incident
	for _, is := range incs {
		sc := e.scope(is.Scope)
		inc := e.restoreIncident(sc, is)
		restored = append(restored, inc)
		if !inc.announced {
			e.schedule(timer{at: inc.created.Add(e.cfg.GroupWait), kind: timerAnnounce, inc: inc})
		}
		switch {
		case inc.status == quell.IncidentResolved:
			e.schedule(timer{at: inc.resolvedAt.Add(e.cfg.ReopenWindow), kind: timerForget, inc: inc})
		case inc.firing == 0:
			e.schedule(timer{at: inc.updated.Add(e.cfg.ResolveHold), kind: timerResolve, inc: inc})
		}
	}
	// Activity as it was filed: by time, then creation.
	slices.SortStableFunc(restored, func(a, b *incident) int { return a.lastActivity.Compare(b.lastActivity) })
	for _, inc := range restored {
		if live(inc) {
			inc.scope.noteActivity(inc, inc.lastActivity)
		}
	}
	for _, st := range s.Alerts {
		if st.Status == quell.Firing && !st.ExpiresAt.IsZero() {
			e.arm(timerExpire, st.Fingerprint, st.ExpiresAt)
		}
		if st.Flapping && len(st.Changes) > 0 {
			e.arm(timerSettle, st.Fingerprint, st.Changes[len(st.Changes)-1].Add(e.cfg.Flapping.Window))
		}
	}
	for _, hd := range s.Held {
		if inc := e.incidents[hd.Incident]; inc != nil {
			e.held = append(e.held, held{d: hd.Decision, inc: inc})
		} else { // its incident is gone (evicted): nothing can change the record
			hd.Decision.Incident = hd.Incident
			e.out.Decision(hd.Decision)
		}
	}
}

// byCreation orders incident states as before orders incidents: by
// creation, then id.
func byCreation(a, b IncidentState) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// restoreIncident rebuilds one incident and files it in its scope's index.
func (e *Engine) restoreIncident(sc *scope, is IncidentState) *incident {
	inc := &incident{
		id: is.ID, scope: sc, status: is.Status, title: is.Title, severity: is.Severity,
		created: is.CreatedAt, updated: is.UpdatedAt, resolvedAt: is.ResolvedAt,
		lastActivity: is.LastActivity, cadence: is.Cadence, seq: is.Seq, announced: is.Announced, reopened: is.Reopened,
		members: make(map[quell.Fingerprint]*quell.IncidentAlert, len(is.Alerts)),
		tokens:  make(map[uint64]int32), subjects: make(map[uint64]int32), workloads: make(map[uint64]int32),
		names: make(map[uint64]int32), words: make(map[uint64]int32), nodes: make(map[int32]int32), sigs: make(map[uint64]bool),
	}
	for i := range is.Alerts {
		m := is.Alerts[i]
		inc.members[m.Fingerprint] = &m
		inc.order = append(inc.order, m.Fingerprint)
		if m.Status == quell.Firing {
			inc.firing++
		}
		if m.LastSeen.After(inc.lastSeen) {
			inc.lastSeen = m.LastSeen
		}
		if cur := e.byAlert[m.Fingerprint]; cur == nil || cur.created.Before(inc.created) {
			e.byAlert[m.Fingerprint] = inc
		}
		a := quell.Alert{Source: m.Source, Labels: m.Labels, Annotations: m.Annotations, Fingerprint: m.Fingerprint}
		in := e.inspect(&a)
		inc.index(in, 1)
		e.rarity.add(in, 1)
	}
	inc.sigOrder = nil
	clear(inc.sigs)
	for _, sig := range is.Sigs {
		inc.addSig(sig)
	}
	e.incidents[inc.id] = inc
	for _, m := range inc.members {
		e.account(inc, memberBytes(m))
	}
	e.queueEviction(inc)
	return inc
}
