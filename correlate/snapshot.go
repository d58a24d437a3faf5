package correlate

import (
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// Snapshot is the engine's whole state, for restoring it after a restart.
type Snapshot struct {
	Now       time.Time       `json:"now"`
	Incidents []IncidentState `json:"incidents"`
	Alerts    []*dedupe.State `json:"alerts"`
	Pending   []PendingState  `json:"pending,omitempty"`
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

// IncidentState is one incident with what relates new alerts to it.
type IncidentState struct {
	quell.Incident
	Scope        uint64    `json:"scope"`
	LastActivity time.Time `json:"lastActivity"`
	Seq          uint64    `json:"seq"`
	Announced    bool      `json:"announced"`
	Reopened     bool      `json:"reopened,omitempty"`
	Tokens       []uint64  `json:"tokens"`
	// Nodes are topology node names, so a changed topology file still loads.
	Nodes []string `json:"nodes,omitempty"`
}

// PendingState is an occurrence waiting for its group's decision.
type PendingState struct {
	Scope  uint64      `json:"scope"`
	Alert  quell.Alert `json:"alert"`
	At     time.Time   `json:"at"`
	Kind   dedupe.Kind `json:"kind"`
	Target string      `json:"target,omitempty"`
	Rel    string      `json:"rel,omitempty"`
}

// Snapshot captures the engine's state.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{Now: e.now, Alerts: e.tracker.Copy()}
	for _, inc := range e.incidents {
		is := IncidentState{Incident: inc.view(), Scope: inc.scope.key, LastActivity: inc.lastActivity, Seq: inc.seq,
			Announced: inc.announced, Reopened: inc.reopened}
		for t := range inc.tokens {
			is.Tokens = append(is.Tokens, t)
		}
		if e.topo != nil {
			for n := range e.topo.ids {
				if inc.nodes.has(int32(n)) {
					is.Nodes = append(is.Nodes, e.topo.ids[n])
				}
			}
		}
		s.Incidents = append(s.Incidents, is)
	}
	for _, h := range e.held[e.heldHead:] {
		s.Held = append(s.Held, HeldDecision{Decision: h.d, Incident: h.inc.final().id})
	}
	for _, sc := range e.scopes {
		for _, it := range sc.pending {
			ps := PendingState{Scope: sc.key, Alert: it.alert, At: it.at, Kind: it.kind, Rel: it.rel}
			if it.target != nil {
				ps.Target = it.target.id
			}
			s.Pending = append(s.Pending, ps)
		}
	}
	return s
}

// Restore loads a snapshot into a new engine and re-arms its deadlines.
func (e *Engine) Restore(s Snapshot) {
	e.now = s.Now
	e.tracker.Restore(s.Alerts)
	for _, is := range s.Incidents {
		sc := e.scope(is.Scope)
		inc := &incident{
			id: is.ID, scope: sc, status: is.Status, title: is.Title, severity: is.Severity,
			created: is.CreatedAt, updated: is.UpdatedAt, resolvedAt: is.ResolvedAt,
			lastActivity: is.LastActivity, seq: is.Seq, announced: is.Announced, reopened: is.Reopened,
			members: make(map[quell.Fingerprint]*quell.IncidentAlert, len(is.Alerts)),
			tokens:  make(map[uint64]struct{}, len(is.Tokens)),
		}
		for i := range is.Alerts {
			m := is.Alerts[i]
			inc.members[m.Fingerprint] = &m
			inc.order = append(inc.order, m.Fingerprint)
			if m.Status == quell.Firing {
				inc.firing++
			}
			if cur := e.byAlert[m.Fingerprint]; cur == nil || cur.created.Before(inc.created) {
				e.byAlert[m.Fingerprint] = inc
			}
		}
		for _, t := range is.Tokens {
			inc.tokens[t] = struct{}{}
		}
		if e.topo != nil {
			inc.nodes = newBitset(e.topo.Len())
			for _, name := range is.Nodes {
				if n, ok := e.topo.Node(name); ok {
					inc.nodes.add(n)
				}
			}
		}
		e.incidents[inc.id] = inc
		if !inc.announced {
			e.schedule(timer{at: inc.created.Add(e.cfg.GroupWait), kind: timerAnnounce, inc: inc})
		}
		switch {
		case inc.status == quell.IncidentResolved:
			e.schedule(timer{at: inc.resolvedAt.Add(e.cfg.ReopenWindow), kind: timerForget, inc: inc})
		default:
			sc.active = append(sc.active, inc)
			if inc.firing == 0 {
				e.schedule(timer{at: inc.updated.Add(e.cfg.ResolveHold), kind: timerResolve, inc: inc})
			}
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
	for _, ps := range s.Pending {
		sc := e.scope(ps.Scope)
		// A follower has no target and is handled afresh at the flush.
		it := pendingItem{alert: ps.Alert, at: ps.At, kind: ps.Kind, rel: ps.Rel, target: e.incidents[ps.Target]}
		if len(sc.pending) == 0 {
			e.schedule(timer{at: ps.At.Add(e.cfg.BurstWait), kind: timerPending, scope: sc})
		}
		if it.target != nil {
			e.pendingFP[ps.Alert.Fingerprint] = sc
		}
		sc.pending = append(sc.pending, it)
	}
}
