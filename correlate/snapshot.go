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
	// Held are decisions made but not yet emitted (see Engine.decide);
	// HeldBase numbers the first of them (every held decision has a
	// number, for the changelog's keys).
	Held     []HeldDecision `json:"held,omitempty"`
	HeldBase uint64         `json:"heldBase,omitempty"`
	// Gone are the incidents held decisions name that are no longer
	// tracked: merged into another (a decision goes out naming where its
	// alert ended up) or evicted.
	Gone []GoneIncident `json:"gone,omitempty"`
	// Input is where in its input the state stands, for the caller (the
	// embedded mode's journal position); the engine does not use it.
	Input int64 `json:"input,omitempty"`
	// chunks is what FromRecords found of the learned chunks (see
	// TrackChanges).
	chunks learnedChunks
}

// learnedChunks tells how many learned chunks the records held, and
// whether they held the graph, co-firing or recent signatures, where older
// versions wrote them.
type learnedChunks struct {
	n   int
	all bool
}

// HeldDecision is a decision waiting out GroupWait, with the incident it
// was made for (which may have merged into another since).
type HeldDecision struct {
	Decision quell.Decision `json:"decision"`
	Incident string         `json:"incident,omitempty"`
}

// GoneIncident is an incident that merged into another (Into, Reason) or
// was evicted (no Into).
type GoneIncident struct {
	ID     string `json:"id"`
	Into   string `json:"into,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// IncidentState is one incident with what the index needs; the values and
// nodes it is filed under are rebuilt from its members.
type IncidentState struct {
	quell.Incident
	Scope        uint64    `json:"scope"`
	LastActivity time.Time `json:"lastActivity"`
	LastHeard    time.Time `json:"lastHeard"`
	// LastSeen is when a member last occurred, repeats too (what orders
	// eviction), kept as such: a member that left still counts, so the
	// latest of those that remain can be earlier.
	LastSeen  time.Time     `json:"lastSeen"`
	Seq       uint64        `json:"seq"`
	Announced bool          `json:"announced"`
	Reopened  bool          `json:"reopened,omitempty"`
	Cadence   time.Duration `json:"cadence,omitempty"`
	// Pending: an update of it waits to be emitted (see EmitUpdates).
	Pending bool `json:"pending,omitempty"`
	// Sigs are the alert signatures it weighs co-firing against; an alert
	// of each last joined it at SigsAt (Unix nanoseconds), after
	// SigsStarts alerts had started firing in its scope (see coRecency).
	Sigs       []uint64 `json:"sigs,omitempty"`
	SigsAt     []int64  `json:"sigsAt,omitempty"`
	SigsStarts []uint64 `json:"sigsStarts,omitempty"`
	// Pos numbers the members (Alerts) in join order; Joins is the number
	// the next member gets. A member keeps its number while it stays, so
	// the changelog need not rewrite all members when one leaves.
	Pos   []uint64 `json:"pos,omitempty"`
	Joins uint64   `json:"joins,omitempty"`
}

// Learned is what an engine learned online, so that a restart continues
// as if it never stopped.
type Learned struct {
	Graph   GraphState   `json:"graph"`
	Cooccur CooccurState `json:"cooccur"`
	// Recent are the signatures each scope saw start firing lately.
	Recent []ScopeSignatures `json:"recent,omitempty"`
	// Taught are the pairs people grouped or set apart, oldest first.
	Taught []TaughtPair `json:"taught,omitempty"`
}

// ScopeSignatures are one scope's recent signatures, oldest first, and
// how many alerts started firing in each of its last minutes (see pace),
// the oldest first, up to Minute (minutes since the epoch), how far
// apart they start (see Spacing) and how many started in all.
type ScopeSignatures struct {
	Scope   uint64      `json:"scope"`
	Sigs    []uint64    `json:"sigs"`
	At      []time.Time `json:"at"`
	Minute  int64       `json:"minute,omitempty"`
	Starts  []uint16    `json:"starts,omitempty"`
	Spacing *Spacing    `json:"spacing,omitempty"` // nil: no alert started or fired again in it
	Started uint64      `json:"started,omitempty"`
}

// Snapshot captures the engine's state.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{Now: e.now, Alerts: e.tracker.Copy(), HeldBase: e.heldBase + uint64(e.heldHead)}
	slices.SortFunc(s.Alerts, func(a, b *dedupe.State) int { return cmp.Compare(a.Fingerprint, b.Fingerprint) })
	for _, inc := range e.incidents {
		is := e.incidentState(inc)
		is.Alerts = e.view(inc).Alerts
		for _, fp := range inc.order {
			is.Pos = append(is.Pos, inc.members[fp].pos)
		}
		s.Incidents = append(s.Incidents, is)
	}
	slices.SortFunc(s.Incidents, byCreation)
	for _, h := range e.held[e.heldHead:] {
		s.Held = append(s.Held, HeldDecision{Decision: h.d, Incident: h.inc.id})
	}
	for _, inc := range e.goneHeld() {
		s.Gone = append(s.Gone, goneIncident(inc))
	}
	s.Learned = e.learned()
	return s
}

// incidentState is inc without its members.
func (e *Engine) incidentState(inc *incident) IncidentState {
	is := IncidentState{
		Incident: quell.Incident{ID: inc.id, Status: inc.status, Severity: inc.severity,
			// the opening alert's title; the summary is made from the members as they are
			Title:     inc.title,
			CreatedAt: inc.created, UpdatedAt: inc.updated, ResolvedAt: inc.resolvedAt, ResolvedBy: inc.resolvedBy,
			AcknowledgedAt: inc.ackedAt, AcknowledgedBy: inc.ackedBy, AssignedTo: inc.assignedTo},
		Scope: inc.scope.key, LastActivity: inc.lastActivity, LastHeard: inc.lastHeard, LastSeen: inc.lastSeen, Seq: inc.seq, Announced: inc.announced,
		Reopened: inc.reopened, Cadence: inc.cadence, Pending: inc.dirty, Joins: inc.joins,
	}
	for _, s := range inc.sigs {
		is.Sigs, is.SigsAt, is.SigsStarts = append(is.Sigs, s.sig), append(is.SigsAt, s.at), append(is.SigsStarts, s.starts)
	}
	return is
}

func goneIncident(inc *incident) GoneIncident {
	g := GoneIncident{ID: inc.id}
	if inc.mergedInto != nil {
		g.Into, g.Reason = inc.mergedInto.id, inc.mergeReason
	}
	return g
}

// goneHeld are the incidents no longer tracked that held decisions name,
// directly or through a chain of merges, in a stable order.
func (e *Engine) goneHeld() []*incident {
	var out []*incident
	seen := map[*incident]bool{}
	for _, h := range e.held[e.heldHead:] {
		for inc := h.inc; inc != nil && !seen[inc] && e.incidents[inc.id] != inc; inc = inc.mergedInto {
			seen[inc] = true
			out = append(out, inc)
		}
	}
	slices.SortFunc(out, func(a, b *incident) int { return cmp.Compare(a.id, b.id) })
	return out
}

// learned is what the engine learned, copied.
func (e *Engine) learned() Learned {
	l := Learned{Graph: e.graph.state(), Cooccur: e.co.state(), Taught: e.taught.state()}
	for _, sc := range e.scopes {
		if ss, ok := sc.signatures(); ok {
			l.Recent = append(l.Recent, ss)
		}
	}
	slices.SortFunc(l.Recent, func(a, b ScopeSignatures) int { return cmp.Compare(a.Scope, b.Scope) })
	return l
}

// signatures copies what the scope saw start firing lately; false when it
// saw nothing.
func (sc *scope) signatures() (ScopeSignatures, bool) {
	if len(sc.recentSigs) == 0 && sc.pace.minute == 0 && sc.spacing == (Spacing{}) && sc.starts == 0 {
		return ScopeSignatures{}, false
	}
	ss := ScopeSignatures{Scope: sc.key, Started: sc.starts}
	if sc.spacing != (Spacing{}) {
		sp := sc.spacing
		ss.Spacing = &sp
	}
	if sc.pace.minute > 0 {
		ss.Minute, ss.Starts = sc.pace.minute, sc.pace.started()
	}
	for _, r := range sc.recentSigs {
		ss.Sigs = append(ss.Sigs, r.sig)
		ss.At = append(ss.At, r.at)
	}
	return ss, true
}

// Restore loads a snapshot into a new engine and re-arms its deadlines.
func (e *Engine) Restore(s Snapshot) {
	e.now = s.Now
	e.chunks = s.chunks
	e.tracker.Restore(s.Alerts)
	e.graph.restore(s.Learned.Graph)
	learned := e.graph.version
	defer func() { e.relearned = e.graph.version != learned }()
	e.co.restore(s.Learned.Cooccur)
	e.taught.restore(s.Learned.Taught)
	for _, rs := range s.Learned.Recent {
		sc := e.scope(rs.Scope)
		sc.pace.restore(rs.Minute, rs.Starts)
		sc.starts = rs.Started
		if rs.Spacing != nil {
			sc.spacing = *rs.Spacing
		}
		for i, sig := range rs.Sigs {
			if i < len(rs.At) {
				sc.recentSigs = append(sc.recentSigs, recentSig{sig: sig, at: rs.At[i]})
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
		if inc.status == quell.IncidentOpen && !inc.announced {
			e.noteOpened(inc, inc.created)
		}
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
			inc.scope.noteActivity(inc)
		}
	}
	for _, st := range s.Alerts {
		if st.Status == quell.Firing && !st.ExpiresAt.IsZero() {
			e.arm(timerExpire, st.Fingerprint, st.ExpiresAt)
		}
		// A flapping alert waits to calm down; a resolved one no incident
		// holds, for its flap window to pass before it is forgotten (see
		// forgetState).
		gone := st.Status == quell.Resolved && e.incidentOf(st.Fingerprint) == nil
		if (st.Flapping || gone) && len(st.Changes) > 0 {
			e.arm(timerSettle, st.Fingerprint, st.Changes[len(st.Changes)-1].Add(e.cfg.Flapping.Window))
		}
	}
	gone := make(map[string]*incident, len(s.Gone))
	for _, g := range s.Gone {
		gone[g.ID] = &incident{id: g.ID, mergeReason: g.Reason, evicted: g.Into == ""}
	}
	for _, g := range s.Gone {
		if g.Into != "" {
			into := e.incidents[g.Into]
			if into == nil {
				into = gone[g.Into]
			}
			gone[g.ID].mergedInto = into
		}
	}
	e.heldBase = s.HeldBase
	for _, hd := range s.Held {
		inc := e.incidents[hd.Incident]
		if inc == nil {
			inc = gone[hd.Incident]
		}
		if inc != nil {
			e.held = append(e.held, held{d: hd.Decision, inc: inc})
		} else { // a snapshot without Gone: nothing can change the record
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
		created: is.CreatedAt, updated: is.UpdatedAt, resolvedAt: is.ResolvedAt, resolvedBy: is.ResolvedBy,
		ackedAt: is.AcknowledgedAt, ackedBy: is.AcknowledgedBy, assignedTo: is.AssignedTo,
		lastActivity: is.LastActivity, lastHeard: is.LastHeard, cadence: is.Cadence, seq: is.Seq, announced: is.Announced, reopened: is.Reopened,
		members: make(map[quell.Fingerprint]*member, len(is.Alerts)),
		nodes:   make(map[int32]nodeUse),
	}
	inc.joins = max(is.Joins, uint64(len(is.Alerts)))
	for i := range is.Alerts {
		m := &member{IncidentAlert: is.Alerts[i], pos: uint64(i)}
		m.setLabels(m.Labels)
		inc.members[m.Fingerprint] = m
		inc.order = append(inc.order, m.Fingerprint)
		if len(is.Pos) == len(is.Alerts) {
			m.pos = is.Pos[i]
		}
		if m.Status == quell.Firing {
			inc.firing++
		}
		if m.LastSeen.After(inc.lastSeen) {
			inc.lastSeen = m.LastSeen
		}
		in := e.inspect(memberAlert(m))
		if in.inc == nil || in.inc.created.Before(inc.created) {
			in.inc = inc
		}
		inc.index(in, 1, e.graph)
		inc.heard(in, m.LastSeen)
		e.rarity.add(in, 1)
	}
	if inc.lastHeard.IsZero() { // saved before quell kept it
		inc.lastHeard = inc.lastSeen
	}
	if !is.LastSeen.IsZero() { // else saved before quell kept it: its members' latest
		inc.lastSeen = is.LastSeen
	}
	for i, sig := range is.Sigs {
		j := sigJoin{sig, is.LastActivity.UnixNano(), inc.scope.starts} // saved before quell kept when
		if len(is.SigsAt) == len(is.Sigs) && len(is.SigsStarts) == len(is.Sigs) {
			j.at, j.starts = is.SigsAt[i], is.SigsStarts[i]
		}
		inc.noteSig(j)
	}
	if is.Pending { // emitted at the next EmitUpdates
		inc.dirty, inc.dirtyAt = true, is.UpdatedAt
		e.dirty = append(e.dirty, inc)
	}
	e.incidents[inc.id] = inc
	e.account(inc, incidentOverhead)
	for _, m := range inc.members {
		e.account(inc, memberBytes(m))
	}
	e.queueEviction(inc)
	return inc
}

// WithTopology returns an engine in e's state that reads topo as its
// topology file (nil: none), for a reload. The state goes over as a
// restart carries it (Snapshot, then Restore), so nothing decided or
// learned is lost; what comes next is decided with topo. With changes
// tracked, call it right after Changes: the new engine records what
// changes after that, as e would have. e's part of a StateBudget goes to
// the new engine: e is done.
func (e *Engine) WithTopology(topo *Topology) (*Engine, error) {
	ne, err := New(e.cfg, topo, e.out)
	if err != nil {
		return nil, err
	}
	ne.Restore(e.Snapshot())
	if ne.track = e.track; ne.track != nil {
		ne.co.takeOver(e.co)
		ne.track.graphCaptured = false // the graph reads anew against the new topology
	}
	e.Release()
	return ne, nil
}
