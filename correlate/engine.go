// Package correlate groups alerts into incidents and explains every grouping.
//
// Grouping is a scored online assignment (place.go): an alert that is not a
// repeat is weighed against the open incidents of its scope that the index
// finds (index.go), on evidence (evidence.go): time since the incident's
// last activity, shared entity values weighted by their rarity (rarity.go,
// entities.go), distance in the service graph (graph.go), alert names and
// summaries, and co-firing learned online (cooccur.go). It joins the best
// incident if that scores high enough, else opens one. This file holds the
// incident lifecycle: repeats, resolves, reopening, flapping and eviction.
// Time is whatever the caller passes: the wall clock when serving, the
// alerts' own timestamps when replaying.
package correlate

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// Output receives what the engine decides. Decision is called exactly once
// for every occurrence passed to Process; Change for every incident change.
type Output struct {
	Decision func(quell.Decision)
	Change   func(quell.IncidentChange)
	// Evicted, when set, hears of each incident dropped to stay within
	// MaxIncidents, MaxTrackedAlerts or MaxStateBytes (besides its decision
	// record); why names the bound.
	Evicted func(id string, alerts int, open bool, why string)
}

// Engine is the correlator. It is not safe for concurrent use.
type Engine struct {
	cfg       Config
	graph     *graph
	rarity    *rarity
	co        *cooccur
	taught    *teaching
	tracker   *dedupe.Tracker
	out       Output
	now       time.Time
	incidents map[string]*incident
	away      mergedAway // incidents merged away unannounced, whose ids still answer
	// stateBytes is what the incidents' alerts hold (see bytes.go).
	stateBytes int64
	released   bool // its part of cfg.StateBudget was given back (Release)
	scopes     map[uint64]*scope
	infos      map[quell.Fingerprint]*alertInfo // per alert: what relates it to others, and its incident
	timers     timerHeap
	timerSeq   uint64
	armed      map[quell.Fingerprint]armedSeqs // the alerts' deadlines that have a timer pending: its seq
	deadTimers int                             // timers of forgotten alerts still in timers (see disarm)
	evictq     evictQueue                      // the incidents in the order they would be evicted (evict.go)
	held       []held
	heldHead   int          // held[:heldHead] are emitted
	heldBase   uint64       // the number of held[0] (every held decision has one)
	track      *changeTrack // what changed since the last Changes call, when tracked
	dirty      []*incident  // incidents with an update for EmitUpdates
	opened     []*incident  // incidents opened at now, for settle
	stamp      uint64       // candidates() visit mark
	cands      []*incident  // scratch for candidates
	full       *incident    // found by candidates: active, but capped
	evs        []evidence   // scratch for weighAll
	partners   partnerTable // scratch for weighAll: the alert's signature's partners
	reasonBuf  []byte       // scratch for reasons

	chunks learnedChunks // of the records it was restored from (see TrackChanges)
	// relearned: restoring its alerts taught the graph what the state did
	// not hold, so the records do not hold it either (see TrackChanges).
	relearned bool
}

// New returns an engine; topo (the topology file's graph) may be nil.
func New(cfg Config, topo *Topology, out Output) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.StateBudget != nil {
		cfg.StateBudget.engines.Add(1)
	}
	return &Engine{
		cfg:       cfg,
		graph:     newGraph(topo, cfg.MaxLearnedNodes, cfg.MaxHops),
		rarity:    newRarity(),
		co:        newCooccur(cfg.MaxCooccurrence),
		taught:    newTeaching(),
		tracker:   dedupe.NewTracker(cfg.Flapping),
		out:       out,
		incidents: make(map[string]*incident),
		scopes:    make(map[uint64]*scope),
		infos:     make(map[quell.Fingerprint]*alertInfo),
		armed:     make(map[quell.Fingerprint]armedSeqs),
	}, nil
}

// Process handles one occurrence of a (already fingerprinted) at time at.
func (e *Engine) Process(a *quell.Alert, at time.Time) {
	e.Advance(at)
	if at.Before(e.now) {
		at = e.now // late arrivals are decided now, never in the past
	}
	kind, st := e.tracker.Observe(a, at)
	e.changedAlert(a.Fingerprint)
	if st != nil && st.Status == quell.Firing && st.ExpiresAt.After(at) {
		e.arm(timerExpire, a.Fingerprint, st.ExpiresAt)
	}
	e.handle(a, at, kind, st)
	if st != nil {
		e.markFlapping(a.Fingerprint, st.Flapping)
	}
	e.bound(at)
	if inc := e.incidentOf(a.Fingerprint); inc != nil {
		e.maybeSweep(inc.scope)
	}
}

// markFlapping shows the alert's flapping state on its incident.
func (e *Engine) markFlapping(fp quell.Fingerprint, flapping bool) {
	if inc := e.incidentOf(fp); inc != nil {
		if m := inc.members[fp]; m != nil && m.Flapping != flapping {
			m.Flapping = flapping
			e.changedMember(inc, fp)
		}
	}
}

func (e *Engine) handle(a *quell.Alert, at time.Time, kind dedupe.Kind, st *dedupe.State) {
	var inc *incident
	in := e.infos[a.Fingerprint]
	if in != nil {
		inc = in.inc
	}
	switch kind {
	case dedupe.Repeat:
		if inc != nil {
			e.firedAgain(inc.scope, at, in.name)
		}
		e.dedupe(inc, a, at, kind, repeatReason(st.Count))
	case dedupe.ResolveRepeat:
		e.dedupe(inc, a, at, kind, "repeat of a resolve: the alert is already resolved")
	case dedupe.ResolveUnknown:
		e.decide(a, nil, quell.ActionSuppressed, "resolve of an alert never seen firing: nothing to resolve", at)
	case dedupe.Resolve:
		e.resolveMember(inc, a, at, st)
	case dedupe.New, dedupe.Retrigger:
		if st.Flapping {
			e.arm(timerSettle, a.Fingerprint, at.Add(e.cfg.Flapping.Window))
		}
		e.place(a, at, kind, st.Flapping, inc)
	}
}

// repeatReasons are the reasons of an alert's first repeats, made once
// (at the first repeat, not when a command starts): most occurrences are
// repeats, and building the reason anew was a tenth of what a repeat cost.
// Later repeats build theirs.
var repeatReasons = sync.OnceValue(func() []string {
	rs := make([]string, 1024)
	for n := range rs {
		rs[n] = buildRepeatReason(n)
	}
	return rs
})

func repeatReason(count int) string {
	if rs := repeatReasons(); count >= 0 && count < len(rs) {
		return rs[count]
	}
	return buildRepeatReason(count)
}

func buildRepeatReason(count int) string {
	return "repeat of a firing alert (occurrence " + strconv.Itoa(count) + ")"
}

// dedupe keeps the alert in inc. Unless it fires again after a resolve
// (kind New), the time since it was last seen is how often its source
// reports (see noteCadence); after a resolve it is how long it was away.
func (e *Engine) dedupe(inc *incident, a *quell.Alert, at time.Time, kind dedupe.Kind, reason string) {
	if inc != nil {
		if m := inc.members[a.Fingerprint]; m != nil {
			if kind != dedupe.New {
				inc.noteCadence(at.Sub(m.LastSeen), e.cfg.Window)
			}
			m.Count++
			e.sawMember(inc, m, at)
			inc.lastSeen, inc.lastHeard = at, at
			e.changedMember(inc, a.Fingerprint)
		}
	}
	e.decide(a, inc, quell.ActionDeduplicated, reason, at)
}

func (e *Engine) resolveMember(inc *incident, a *quell.Alert, at time.Time, st *dedupe.State) {
	if inc == nil {
		e.decide(a, nil, quell.ActionSuppressed, "resolve of an alert that belongs to no incident", at)
		return
	}
	m := inc.members[a.Fingerprint]
	if st.Flapping {
		// A flapping alert's incident stays open instead of closing and
		// reopening with every toggle; the resolve applies once it calms down.
		e.arm(timerSettle, a.Fingerprint, at.Add(e.cfg.Flapping.Window))
		e.decide(a, inc, quell.ActionSuppressed, fmt.Sprintf(
			"flapping (%d state changes in %s): resolve held until it stops flapping", len(st.Changes), e.cfg.Flapping.Window), at)
		return
	}
	e.markResolved(inc, m, a.EndsAt, at)
	reason := "alert resolved; " + strconv.Itoa(inc.firing) + " of " + strconv.Itoa(len(inc.members)) + " alerts in the incident still firing"
	if inc.firing == 0 {
		reason = "alert resolved; all " + strconv.Itoa(len(inc.members)) + " alerts resolved, the incident closes after " + e.cfg.ResolveHold.String() + " without a new firing"
	}
	e.decide(a, inc, quell.ActionResolved, reason, at)
}

func (e *Engine) markResolved(inc *incident, m *member, endsAt, at time.Time) {
	if m == nil || m.Status != quell.Firing {
		return
	}
	m.Status = quell.Resolved
	m.EndsAt = endsAt
	if m.EndsAt.IsZero() {
		m.EndsAt = at
	}
	e.sawMember(inc, m, at)
	e.changedMember(inc, m.Fingerprint)
	inc.firing--
	inc.updated = at
	e.change(inc, quell.IncidentUpdated, at)
	e.maybeResolve(inc, at)
}

// open opens a new incident with a as its first alert. Its creation goes
// out when it is announced (see timerAnnounce), not here.
func (e *Engine) open(sc *scope, a *quell.Alert, at time.Time, in *alertInfo, reason string) *incident {
	inc := e.newIncident(sc, a, at)
	e.add(inc, a, at, in, "opened the incident: "+reason)
	e.decide(a, inc, quell.ActionCreated, reason, at)
	e.noteOpened(inc, at)
	return inc
}

// join adds a to inc.
func (e *Engine) join(inc *incident, a *quell.Alert, at time.Time, in *alertInfo, reason string) {
	e.add(inc, a, at, in, reason)
	e.change(inc, quell.IncidentUpdated, at)
	e.decide(a, inc, quell.ActionJoined, reason, at)
}

// reopen brings back a resolved incident whose member fired again.
func (e *Engine) reopen(inc *incident, a *quell.Alert, at time.Time, in *alertInfo, why string) {
	since := at.Sub(inc.resolvedAt)
	e.changedIncident(inc)
	inc.status = quell.IncidentOpen
	inc.resolvedAt = time.Time{}
	// The old problem is back: its own alerts return to it, but new alerts
	// are no evidence of that, and open incidents of their own.
	inc.reopened = true
	reason := fmt.Sprintf("fired again %s after its incident resolved (reopen window %s): incident reopened; %s", since, e.cfg.ReopenWindow, why)
	e.add(inc, a, at, in, reason)
	e.change(inc, quell.IncidentReopened, at)
	e.decide(a, inc, quell.ActionJoined, reason, at)
}

// forgetAlert drops all that is known of one alert.
func (e *Engine) forgetAlert(fp quell.Fingerprint) {
	e.changedAlert(fp)
	e.tracker.Forget(fp)
	delete(e.infos, fp)
	e.disarm(fp)
}
