// Package correlate groups alerts into incidents and explains every grouping.
//
// An alert joins an open incident it is related to (a shared link label
// value, or topology nodes within a few hops) while that incident is young;
// later related alerts wait briefly to see whether they form a burst of their
// own (a second problem) or are late symptoms of the first. Unrelated alerts
// open incidents of their own. Time is whatever the caller passes: the wall
// clock when serving, the alerts' own timestamps when replaying.
package correlate

import (
	"container/heap"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// Output receives what the engine decides. Decision is called exactly once
// for every occurrence passed to Process; Change for every incident change.
type Output struct {
	Decision func(quell.Decision)
	Change   func(quell.IncidentChange)
}

// Engine is the correlator. It is not safe for concurrent use.
type Engine struct {
	cfg       Config
	topo      *Topology
	tracker   *dedupe.Tracker
	out       Output
	now       time.Time
	incidents map[string]*incident
	byAlert   map[quell.Fingerprint]*incident
	scopes    map[uint64]*scope
	pendingFP map[quell.Fingerprint]*scope
	timers    timerHeap
	timerSeq  uint64
	armed     map[armedKey]bool // the alerts' deadlines that have a timer pending
	held      []held
	dirty     []*incident // incidents with an update for EmitUpdates
	heldHead  int         // held[:heldHead] are emitted
	young     []related   // scratch for candidates
	infos     map[quell.Fingerprint]*alertInfo
	roles     map[string]labelRole // what each configured label name is for
	linkRank  map[string]int       // position of each link label in the config
	// Durations as reasons print them, formatted once.
	groupWindow, resolveHold string
}

// scope is one partition of alerts (see Config.ScopeLabels).
type scope struct {
	key     uint64
	active  []*incident // open incidents that may still take alerts, oldest first
	pending []pendingItem
}

// pendingItem is an occurrence waiting for its group's decision.
type pendingItem struct {
	alert  quell.Alert
	at     time.Time
	kind   dedupe.Kind
	target *incident // the incident it would join if no burst forms
	rel    string    // how it relates to target
}

// held is a decision waiting to be emitted.
type held struct {
	d   quell.Decision
	inc *incident
}

// related is an incident and how an alert relates to it.
type related struct {
	inc *incident
	rel string
}

// alertInfo is what relates an alert to others.
type alertInfo struct {
	scope  uint64
	tokens []uint64    // hashes of link label name=value
	links  [][2]string // label name and value, parallel to tokens
	nodes  []int32
	balls  []*ball
}

// New returns an engine; topo may be nil.
func New(cfg Config, topo *Topology, out Output) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Engine{
		cfg:         cfg,
		topo:        topo,
		tracker:     dedupe.NewTracker(cfg.Flapping),
		out:         out,
		incidents:   make(map[string]*incident),
		byAlert:     make(map[quell.Fingerprint]*incident),
		scopes:      make(map[uint64]*scope),
		pendingFP:   make(map[quell.Fingerprint]*scope),
		infos:       make(map[quell.Fingerprint]*alertInfo),
		armed:       make(map[armedKey]bool),
		roles:       roles(cfg),
		linkRank:    rank(cfg.LinkLabels),
		groupWindow: cfg.GroupWindow.String(),
		resolveHold: cfg.ResolveHold.String(),
	}, nil
}

// Scope returns the partition key of a: a hash of its scope label values.
func Scope(scopeLabels []string, a *quell.Alert) uint64 {
	var d xxhash.Digest
	d.Reset()
	for _, k := range scopeLabels {
		d.WriteString(a.Labels[k])
		d.Write([]byte{0xff})
	}
	return d.Sum64()
}

// Process handles one occurrence of a (already fingerprinted) at time at.
func (e *Engine) Process(a *quell.Alert, at time.Time) {
	e.Advance(at)
	if at.Before(e.now) {
		at = e.now // late arrivals are decided now, never in the past
	}
	kind, st := e.tracker.Observe(a, at)
	if st != nil && st.Status == quell.Firing && st.ExpiresAt.After(at) {
		e.arm(timerExpire, a.Fingerprint, st.ExpiresAt)
	}
	if sc := e.pendingFP[a.Fingerprint]; sc != nil {
		// Its first occurrence awaits the group decision: this one follows it.
		sc.pending = append(sc.pending, pendingItem{alert: *a, at: at, kind: kind})
		return
	}
	e.handle(a, at, kind, st)
	if st != nil {
		e.markFlapping(a.Fingerprint, st.Flapping)
	}
	e.bound(at)
}

// bound evicts incidents while quell holds more than MaxIncidents of them or
// more than MaxTrackedAlerts alerts: resolved ones first, then the open one
// that went longest without activity.
func (e *Engine) bound(at time.Time) {
	for len(e.incidents) > e.cfg.MaxIncidents || e.tracker.Len() > e.cfg.MaxTrackedAlerts {
		var victim *incident
		for _, inc := range e.incidents {
			if victim == nil || evictBefore(inc, victim) {
				victim = inc
			}
		}
		if victim == nil {
			return
		}
		e.evict(victim, at)
	}
}

func evictBefore(a, b *incident) bool {
	if (a.status == quell.IncidentOpen) != (b.status == quell.IncidentOpen) {
		return a.status != quell.IncidentOpen
	}
	if !a.lastActivity.Equal(b.lastActivity) {
		return a.lastActivity.Before(b.lastActivity)
	}
	return a.id < b.id
}

// evict drops an incident and what is known of its alerts, and records it:
// a decision naming the incident and, if it was announced, an "evicted" change.
func (e *Engine) evict(inc *incident, at time.Time) {
	wasOpen := inc.status == quell.IncidentOpen
	inc.evicted = true
	if len(inc.order) > 0 {
		m := inc.members[inc.order[0]]
		a := quell.Alert{Source: m.Source, Status: m.Status, Labels: m.Labels, StartsAt: m.StartsAt, EndsAt: m.EndsAt, Fingerprint: m.Fingerprint}
		e.decide(&a, inc, quell.ActionSuppressed, fmt.Sprintf(
			"evicted with its %d alerts (open: %v): quell holds at most %d incidents and %d alerts (correlate.max_incidents, max_tracked_alerts), and this one went longest without activity",
			len(inc.members), wasOpen, e.cfg.MaxIncidents, e.cfg.MaxTrackedAlerts), at)
	}
	if wasOpen {
		inc.status = quell.IncidentResolved
		inc.resolvedAt = at
		inc.updated = at
		e.change(inc, quell.IncidentEvicted, at)
	}
	inc.resolvedAt = at.Add(-e.cfg.ReopenWindow - 1) // evicted: never reopened
	delete(e.incidents, inc.id)
	for fp := range inc.members {
		if e.byAlert[fp] == inc {
			delete(e.byAlert, fp)
			e.forgetAlert(fp)
		}
	}
}

// markFlapping shows the alert's flapping state on its incident.
func (e *Engine) markFlapping(fp quell.Fingerprint, flapping bool) {
	if inc := e.byAlert[fp]; inc != nil {
		if m := inc.members[fp]; m != nil {
			m.Flapping = flapping
		}
	}
}

func (e *Engine) handle(a *quell.Alert, at time.Time, kind dedupe.Kind, st *dedupe.State) {
	inc := e.byAlert[a.Fingerprint]
	switch kind {
	case dedupe.Repeat:
		e.dedupe(inc, a, at, "repeat of a firing alert (occurrence "+strconv.Itoa(st.Count)+")")
	case dedupe.ResolveRepeat:
		e.dedupe(inc, a, at, "repeat of a resolve: the alert is already resolved")
	case dedupe.ResolveUnknown:
		e.decide(a, nil, quell.ActionSuppressed, "resolve of an alert never seen firing: nothing to resolve", at)
	case dedupe.Resolve:
		e.resolveMember(inc, a, at, st)
	case dedupe.New, dedupe.Retrigger:
		if st.Flapping {
			e.arm(timerSettle, a.Fingerprint, at.Add(e.cfg.Flapping.Window))
		}
		e.place(a, at, kind, st, inc)
	}
}

func (e *Engine) dedupe(inc *incident, a *quell.Alert, at time.Time, reason string) {
	if inc != nil {
		if m := inc.members[a.Fingerprint]; m != nil {
			m.Count++
			m.LastSeen = at
			// A flapping alert keeps its incident open, but is no sign of a
			// live problem that new alerts should join.
			if a.Status == quell.Firing && !m.Flapping {
				inc.lastActivity = at
			}
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
		reason = "alert resolved; all " + strconv.Itoa(len(inc.members)) + " alerts resolved, the incident closes after " + e.resolveHold + " without a new firing"
	}
	e.decide(a, inc, quell.ActionResolved, reason, at)
}

func (e *Engine) markResolved(inc *incident, m *quell.IncidentAlert, endsAt, at time.Time) {
	if m == nil || m.Status != quell.Firing {
		return
	}
	m.Status = quell.Resolved
	m.EndsAt = endsAt
	if m.EndsAt.IsZero() {
		m.EndsAt = at
	}
	m.LastSeen = at
	inc.firing--
	inc.updated = at
	e.change(inc, quell.IncidentUpdated, at)
	e.maybeResolve(inc, at)
}

// place decides where a new firing (or a re-triggered one) goes.
func (e *Engine) place(a *quell.Alert, at time.Time, kind dedupe.Kind, st *dedupe.State, cur *incident) {
	info := e.inspect(a)
	sc := e.scope(info.scope)
	young, late, lrel := e.candidates(sc, info, at)
	var join *incident
	var yrel string
	if len(young) > 0 {
		join, yrel = e.mergeYoung(young, at)
	}
	if cur != nil && cur.status == quell.IncidentResolved {
		// A member firing soon after its incident closed waits like a late
		// alert: alone it reopens that incident, in a burst it is part of a
		// new problem. A storm already in progress takes it at once.
		if join == nil && kind == dedupe.New && at.Sub(cur.resolvedAt) <= e.cfg.ReopenWindow {
			late, lrel = cur, "fired again after its incident resolved"
		}
		cur = nil
	}
	switch {
	case join != nil && join == cur:
		e.dedupe(cur, a, at, "re-triggered within its incident's grouping window")
	case join != nil:
		e.join(join, cur, a, at, info, yrel+", within incident "+join.id+"'s "+e.groupWindow+" grouping window")
	case late != nil:
		sc.pending = append(sc.pending, pendingItem{alert: *a, at: at, kind: kind, target: late, rel: lrel})
		e.pendingFP[a.Fingerprint] = sc
		if len(sc.pending) == 1 {
			e.schedule(timer{at: at.Add(e.cfg.BurstWait), kind: timerPending, scope: sc})
		}
	case cur != nil:
		e.dedupe(cur, a, at, "re-triggered; no other related incident, stays in its own")
	default:
		e.open(sc, a, at, &info, "no related open incident")
	}
}

// joinYoung joins a to an incident that opened while it waited (judged at
// now) and reports whether there was one.
func (e *Engine) joinYoung(sc *scope, info alertInfo, cur *incident, a *quell.Alert, at, now time.Time) bool {
	young, _, _ := e.candidates(sc, info, now)
	if len(young) == 0 {
		return false
	}
	inc, rel := e.mergeYoung(young, now)
	if inc == cur {
		e.dedupe(cur, a, at, "re-triggered; its incident is in its grouping window")
	} else {
		e.join(inc, cur, a, at, info, fmt.Sprintf("%s, which opened while this alert waited", rel))
	}
	return true
}

// open opens a new incident with a as its first alert. Its creation goes
// out when it is announced (see timerAnnounce), not here.
func (e *Engine) open(sc *scope, a *quell.Alert, at time.Time, info *alertInfo, reason string) *incident {
	inc := e.newIncident(sc, a, at)
	e.add(inc, a, at, info, "opened the incident: "+reason)
	e.decide(a, inc, quell.ActionCreated, reason, at)
	return inc
}

// join adds a to inc, moving it out of from when it belonged elsewhere.
func (e *Engine) join(inc, from *incident, a *quell.Alert, at time.Time, info alertInfo, reason string) {
	if from != nil && from != inc {
		e.remove(from, a.Fingerprint, at)
		reason += "; moved from incident " + from.id
	}
	e.add(inc, a, at, &info, reason)
	e.change(inc, quell.IncidentUpdated, at)
	e.decide(a, inc, quell.ActionJoined, reason, at)
}

func (e *Engine) reopen(inc *incident, a *quell.Alert, at time.Time) {
	info := e.inspect(a)
	since := at.Sub(inc.resolvedAt)
	inc.status = quell.IncidentOpen
	inc.resolvedAt = time.Time{}
	// The old problem is back: its own alerts return to it, but new alerts
	// are no evidence of that, and open incidents of their own.
	inc.reopened = true
	inc.scope.active = append(inc.scope.active, inc)
	reason := fmt.Sprintf("fired again %s after its incident resolved (reopen window %s): incident reopened", since, e.cfg.ReopenWindow)
	e.add(inc, a, at, &info, reason)
	e.change(inc, quell.IncidentReopened, at)
	e.decide(a, inc, quell.ActionJoined, reason, at)
}

// candidates finds the open incidents of sc an alert relates to: those still
// in their grouping window (oldest first, in e.young) and the most recently
// opened one past it.
func (e *Engine) candidates(sc *scope, info alertInfo, at time.Time) (young []related, late *incident, lrel string) {
	young = e.young[:0]
	keep := sc.active[:0]
	for _, inc := range sc.active {
		if inc.status != quell.IncidentOpen || inc.mergedInto != nil || at.Sub(inc.lastActivity) > e.cfg.Window ||
			at.Sub(inc.created) > e.cfg.MaxAge || len(inc.members) >= e.cfg.MaxAlerts {
			continue // it takes no new alerts any more
		}
		keep = append(keep, inc)
		if inc.reopened {
			continue // it takes back its own alerts only (see reopen)
		}
		rel, ok := e.relate(info, inc)
		switch {
		case !ok:
		case at.Sub(inc.created) <= e.cfg.GroupWindow:
			young = append(young, related{inc, rel})
		case late == nil || !inc.created.Before(late.created):
			late, lrel = inc, rel
		}
	}
	clear(sc.active[len(keep):])
	sc.active = keep
	e.young = young
	return young, late, lrel
}

// mergeYoung merges incidents that one alert links: the ones opened less than
// GroupWait ago, whose decisions are still held, merge into the oldest. It
// returns the incident the alert joins (the youngest left) and the relation.
func (e *Engine) mergeYoung(young []related, at time.Time) (*incident, string) {
	dst := young[0]
	for _, r := range young[1:] {
		if r.inc.created.Before(dst.inc.created) {
			dst = r
		}
	}
	var target related
	for _, r := range young {
		if r.inc != dst.inc && !r.inc.announced && at.Sub(r.inc.created) < e.cfg.GroupWait {
			e.merge(dst.inc, r.inc, at, fmt.Sprintf("merged into incident %s: an alert %s and %s", dst.inc.id, r.rel, dst.rel))
			continue
		}
		if target.inc == nil || !r.inc.created.Before(target.inc.created) {
			target = r
		}
	}
	return target.inc, target.rel
}

// relate tells how an alert relates to an incident, if it does.
func (e *Engine) relate(info alertInfo, inc *incident) (string, bool) {
	for i, t := range info.tokens {
		if _, ok := inc.tokens[t]; ok {
			return "shares " + info.links[i][0] + "=" + info.links[i][1], true
		}
	}
	for i, b := range info.balls {
		if m := b.set.first(inc.nodes); m >= 0 {
			if m == info.nodes[i] {
				return "on topology node " + e.topo.ids[m], true
			}
			return "topology path " + e.topo.path(b, m), true
		}
	}
	return "", false
}

// inspect computes what relates a to other alerts, once per fingerprint:
// an alert's identity labels, which relations come from, do not change
// between its occurrences.
func (e *Engine) inspect(a *quell.Alert) alertInfo {
	if in := e.infos[a.Fingerprint]; in != nil {
		return *in
	}
	in := &alertInfo{scope: Scope(e.cfg.ScopeLabels, a)}
	// One pass over the alert's few labels beats a lookup per configured name.
	for k, v := range a.Labels {
		r := e.roles[k]
		// The token is the value alone: "host=db-1" and "instance=db-1:9100"
		// name one entity under different labels, and link.
		if r&roleLink != 0 && v != "" {
			in.tokens = append(in.tokens, xxhash.Sum64String(entity(v)))
			in.links = append(in.links, [2]string{k, v})
		}
		if r&roleTopology != 0 && e.topo != nil {
			if n, ok := e.topo.Node(v); ok && !slices.Contains(in.nodes, n) {
				in.nodes = append(in.nodes, n)
				in.balls = append(in.balls, e.topo.ball(n, e.cfg.Hops))
			}
		}
	}
	// Map order is random: order links as configured (so reasons name the
	// first configured label that matches) and nodes by index.
	in.sort(e.linkRank)
	e.infos[a.Fingerprint] = in
	return *in
}

type labelRole uint8

const (
	roleLink labelRole = 1 << iota
	roleTopology
)

func roles(cfg Config) map[string]labelRole {
	m := map[string]labelRole{}
	for _, k := range cfg.LinkLabels {
		m[k] |= roleLink
	}
	for _, k := range cfg.TopologyLabels {
		m[k] |= roleTopology
	}
	return m
}

// sort orders links (and their tokens) by rank, and nodes (with their
// balls) by index: insertion sorts, as an alert has a handful of each.
func (in *alertInfo) sort(rank map[string]int) {
	for i := 1; i < len(in.links); i++ {
		for j := i; j > 0 && rank[in.links[j][0]] < rank[in.links[j-1][0]]; j-- {
			in.links[j], in.links[j-1] = in.links[j-1], in.links[j]
			in.tokens[j], in.tokens[j-1] = in.tokens[j-1], in.tokens[j]
		}
	}
	for i := 1; i < len(in.nodes); i++ {
		for j := i; j > 0 && in.nodes[j] < in.nodes[j-1]; j-- {
			in.nodes[j], in.nodes[j-1] = in.nodes[j-1], in.nodes[j]
			in.balls[j], in.balls[j-1] = in.balls[j-1], in.balls[j]
		}
	}
}

func rank(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := m[n]; !dup {
			m[n] = i
		}
	}
	return m
}

// forgetAlert drops all that is known of one alert.
func (e *Engine) forgetAlert(fp quell.Fingerprint) {
	e.tracker.Forget(fp)
	delete(e.infos, fp)
}

// entity strips a port from a label value ("host:9100" names "host").
func entity(v string) string {
	if i := strings.LastIndexByte(v, ':'); i > 0 && i < len(v)-1 && isDigits(v[i+1:]) {
		return v[:i]
	}
	return v
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (e *Engine) scope(key uint64) *scope {
	sc := e.scopes[key]
	if sc == nil {
		sc = &scope{key: key}
		e.scopes[key] = sc
	}
	return sc
}

// decide records the decision for one occurrence. A decision naming an
// incident younger than GroupWait is held that long (see release): the
// incident may still merge into another, and the record must name where the
// alert ended up. Every other decision goes out at once.
func (e *Engine) decide(a *quell.Alert, inc *incident, action quell.Action, reason string, at time.Time) {
	d := quell.Decision{Alert: *a, Action: action, Reason: reason, At: at}
	if inc == nil || inc.announced {
		if inc != nil {
			d.Incident = inc.id
		}
		if e.out.Decision != nil {
			e.out.Decision(d)
		}
		return
	}
	e.held = append(e.held, held{d: d, inc: inc})
	// In a storm the queue grows with rate × GroupWait; beyond its bound the
	// oldest go out early, naming the incident as it is now.
	for len(e.held)-e.heldHead > e.cfg.MaxHeldDecisions {
		e.emitOldestHeld()
	}
}

// release emits the held decisions whose wait ended by now (all when all).
// The queue is consumed from heldHead, so a release costs what it emits.
func (e *Engine) release(now time.Time, all bool) {
	for e.heldHead < len(e.held) && (all || !e.held[e.heldHead].d.At.Add(e.cfg.GroupWait).After(now)) {
		e.emitOldestHeld()
	}
	switch n := e.heldHead; {
	case n == len(e.held) && cap(e.held) > 1<<16:
		e.held, e.heldHead = nil, 0 // after a storm, give the memory back
	case n == len(e.held):
		e.held, e.heldHead = e.held[:0], 0
	case n > len(e.held)/2:
		e.held = e.held[:copy(e.held, e.held[n:])]
		e.heldHead = 0
	}
}

// emitOldestHeld emits the oldest held decision, naming the incident its
// alert ended up in.
func (e *Engine) emitOldestHeld() {
	h := &e.held[e.heldHead]
	final := h.inc.final()
	if final != h.inc {
		if h.d.Action == quell.ActionCreated {
			h.d.Action = quell.ActionJoined
		}
		h.d.Reason += "; then " + h.inc.mergeReason
	}
	h.d.Incident = final.id
	if e.out.Decision != nil {
		e.out.Decision(h.d)
	}
	e.held[e.heldHead] = held{}
	e.heldHead++
}

// Advance moves the engine's clock to now, firing every deadline reached.
func (e *Engine) Advance(now time.Time) {
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := heap.Pop(&e.timers).(timer)
		if t.at.After(e.now) {
			e.now = t.at
		}
		e.fire(t)
	}
	if now.After(e.now) {
		e.now = now
	}
	e.release(e.now, false)
}

// Flush decides and emits everything still held, as at the end of a replay;
// deadlines that only time would reach (resolve holds, expiries) stay unfired.
func (e *Engine) Flush() {
	var rest timerHeap
	for len(e.timers) > 0 {
		t := heap.Pop(&e.timers).(timer)
		if t.kind == timerPending || t.kind == timerAnnounce {
			e.fire(t)
		} else {
			rest = append(rest, t)
		}
	}
	e.timers = rest
	heap.Init(&e.timers)
	e.release(e.now, true)
	e.EmitUpdates()
}

func (e *Engine) fire(t timer) {
	switch t.kind {
	case timerAnnounce:
		if inc := t.inc; inc.mergedInto == nil && !inc.announced {
			inc.announced = true
			e.change(inc, quell.IncidentCreated, t.at)
			switch {
			case inc.evicted:
				e.change(inc, quell.IncidentEvicted, t.at)
			case inc.status == quell.IncidentResolved:
				e.change(inc, quell.IncidentResolve, t.at)
			}
		}
	case timerPending:
		e.flushPending(t.scope, t.at)
	case timerResolve:
		inc := t.inc
		if inc.mergedInto == nil && inc.status == quell.IncidentOpen && inc.firing == 0 && !t.at.Before(inc.updated.Add(e.cfg.ResolveHold)) {
			inc.status = quell.IncidentResolved
			inc.resolvedAt = t.at
			inc.updated = t.at
			e.change(inc, quell.IncidentResolve, t.at)
			e.schedule(timer{at: t.at.Add(e.cfg.ReopenWindow), kind: timerForget, inc: inc})
		}
	case timerExpire:
		delete(e.armed, armedKey{t.fp, t.kind})
		st := e.tracker.Get(t.fp)
		switch {
		case st == nil || st.Status != quell.Firing || st.ExpiresAt.IsZero():
		case st.ExpiresAt.After(t.at): // refreshed since: wait for the new end
			e.arm(timerExpire, t.fp, st.ExpiresAt)
		case st.Flapping: // expires once it calms down (see timerSettle)
		default:
			e.tracker.Expire(st, t.at)
			if inc := e.byAlert[t.fp]; inc != nil {
				e.markResolved(inc, inc.members[t.fp], t.at, t.at)
			}
		}
	case timerSettle:
		delete(e.armed, armedKey{t.fp, t.kind})
		st := e.tracker.Get(t.fp)
		if st != nil && e.tracker.Settle(st, t.at) {
			e.markFlapping(t.fp, false)
		}
		if st != nil && st.Flapping && len(st.Changes) > 0 {
			e.arm(timerSettle, t.fp, st.Changes[len(st.Changes)-1].Add(e.cfg.Flapping.Window))
		}
		if st != nil && !st.Flapping && st.Status == quell.Firing && !st.ExpiresAt.IsZero() {
			e.arm(timerExpire, t.fp, st.ExpiresAt)
		}
		if st != nil && !st.Flapping && st.Status == quell.Resolved {
			if inc := e.byAlert[t.fp]; inc != nil {
				e.markResolved(inc, inc.members[t.fp], st.LastSeen, t.at)
			} else {
				e.forgetState(t.fp)
			}
		}
	case timerForget:
		inc := t.inc
		if inc.status == quell.IncidentResolved && !t.at.Before(inc.resolvedAt.Add(e.cfg.ReopenWindow)) {
			e.forget(inc)
		}
	}
}

// forget drops a resolved incident whose reopen window passed, with the
// state of its alerts, so memory follows what is live.
func (e *Engine) forget(inc *incident) {
	delete(e.incidents, inc.id)
	for fp := range inc.members {
		if e.byAlert[fp] == inc {
			delete(e.byAlert, fp)
			e.forgetState(fp)
		}
	}
}

// forgetState drops what is known of a resolved alert that no incident holds,
// once its state changes have left the flap window (flapping needs them).
func (e *Engine) forgetState(fp quell.Fingerprint) {
	st := e.tracker.Get(fp)
	if st == nil || st.Status != quell.Resolved || e.byAlert[fp] != nil {
		return
	}
	if n := len(st.Changes); n > 0 && e.now.Sub(st.Changes[n-1]) < e.cfg.Flapping.Window {
		e.arm(timerSettle, fp, st.Changes[n-1].Add(e.cfg.Flapping.Window))
		return
	}
	e.forgetAlert(fp)
}

// flushPending decides a scope's pending group: a burst opens an incident of
// its own, fewer alerts join the incidents they relate to.
func (e *Engine) flushPending(sc *scope, at time.Time) {
	items := sc.pending
	sc.pending = nil
	leaders := 0
	for i := range items {
		if items[i].target != nil {
			leaders++
			delete(e.pendingFP, items[i].alert.Fingerprint)
		}
	}
	var burst *incident
	for i := range items {
		it := &items[i]
		a := &it.alert
		if it.target == nil { // a later occurrence of a pending alert
			e.handle(a, it.at, it.kind, e.tracker.Get(a.Fingerprint))
			continue
		}
		cur := e.byAlert[a.Fingerprint]
		if cur != nil && cur.status != quell.IncidentOpen {
			cur = nil
		}
		target := it.target.final()
		info := e.inspect(a)
		switch {
		case leaders >= e.cfg.BurstMin && burst == nil:
			if cur != nil {
				e.remove(cur, a.Fingerprint, it.at)
			}
			burst = e.open(sc, a, it.at, &info, fmt.Sprintf(
				"a burst of %d related alerts within %s after incident %s's grouping window: a problem of its own", leaders, e.cfg.BurstWait, target.id))
		case burst != nil:
			e.join(burst, cur, a, it.at, info, fmt.Sprintf("part of the burst that opened incident %s", burst.id))
		case e.joinYoung(sc, info, cur, a, it.at, at):
			// an incident opened while it waited, and it belongs to that storm
		case target.status == quell.IncidentOpen && target == cur:
			e.dedupe(cur, a, it.at, "re-triggered after the grouping window, no burst: stays in its incident")
		case target.status == quell.IncidentOpen:
			e.join(target, cur, a, it.at, info, fmt.Sprintf("late alert, %s; %d alerts in %s are no burst", it.rel, leaders, e.cfg.BurstWait))
		case target.members[a.Fingerprint] != nil && it.at.Sub(target.resolvedAt) <= e.cfg.ReopenWindow:
			e.reopen(target, a, it.at)
		case cur != nil:
			e.dedupe(cur, a, it.at, "re-triggered; the incident it related to closed, stays in its own")
		default:
			e.open(sc, a, it.at, &info, "the related incident closed meanwhile")
		}
	}
}
