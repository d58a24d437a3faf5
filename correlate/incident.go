package correlate

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// member is one alert of an incident, and its number in the incident's
// join order (kept across restores, see Snapshot).
type member struct {
	quell.IncidentAlert
	pos uint64
	// entity is what the alert is about (Entity of its labels): every
	// change of its incident titles it (see summary), and a storm's
	// changes looked it up in the labels again for each member.
	entity string
}

// setLabels sets m's labels and what they say it is about.
func (m *member) setLabels(labels map[string]string) {
	m.Labels = labels
	_, m.entity = Entity(labels)
}

type incident struct {
	// What weighing a candidate reads comes first, together: an alert
	// weighs many incidents, most of them once.
	stamp        uint64 // candidates() visit mark
	status       quell.IncidentStatus
	created      time.Time
	lastActivity time.Time // a member joined or fired again
	// older and newer link the scope's incidents in the order of their
	// last activity, while listed (see noteActivity).
	older, newer *incident
	listed       bool
	cadence      time.Duration // how often its alerts report again (moving average)
	mergedInto   *incident
	filter       tokenFilter // the values it holds (tokens), and some it held: most lookups of a value it lacks end here
	// What its members are and are about, counted per member so that a
	// member leaving takes its part away (see index): tokens their entity
	// values, one table for every kind, since weighing an alert looks each
	// value up once; names their alertnames and summary words, which
	// weighing looks up in every candidate: few, in a table of their own
	// they stay in cache, where among the values of a large incident each
	// lookup missed it.
	tokens    tokenTable
	names     tokenTable
	workloads int                 // distinct workloads (not machines) members are about
	machines  int                 // members about a machine
	nodes     map[int32]nodeUse   // graph nodes its members are about
	hosts     map[int32]int32     // learned machines its members run on (nil: none), members each
	sigs      []sigJoin           // signatures for co-occurrence: the last maxSigs, in the order they came
	order     []quell.Fingerprint // members in join order, for stable output
	// announced: its creation went out. Until then (GroupWait) it may merge
	// into an older incident, and none of its changes leave the engine.
	announced bool
	reopened  bool
	evicted   bool
	dirty     bool // an update waits for EmitUpdates
	// emittedAt is when its last change left the engine (engine time),
	// emittedSize how many alerts that change carried.
	emittedAt   time.Time
	emittedSize int

	id         string
	scope      *scope
	title      string
	severity   quell.Severity
	updated    time.Time
	resolvedAt time.Time
	resolvedBy string    // a person resolved it (feedback)
	ackedAt    time.Time // a person acknowledged it
	ackedBy    string
	assignedTo string    // in an ITSM tool, as it last said
	lastSeen   time.Time // any occurrence of a member, repeats too
	// lastHeard: as lastSeen, but a re-fire that stays in the incident
	// after a silence does not end that silence (see silent).
	lastHeard   time.Time
	members     map[quell.Fingerprint]*member
	joins       uint64 // the number the next member gets
	firing      int    // members firing, flapping ones included
	bytes       int64  // what its members hold (memberBytes)
	seq         uint64
	dirtyAt     time.Time // the time of the update waiting for EmitUpdates
	mergeReason string
}

// noteCadence averages how often the incident's alerts report again: a
// source that evaluates every two minutes says nothing for two minutes,
// and time evidence is measured against that (see weigh).
func (inc *incident) noteCadence(gap, window time.Duration) {
	switch {
	case gap <= 0 || gap > window:
	case inc.cadence == 0:
		inc.cadence = gap
	default:
		inc.cadence += (gap - inc.cadence) / 5
	}
}

// maxSigs bounds the signatures an incident keeps for co-occurrence.
const maxSigs = 64

// sigJoin is a signature an incident holds and when an alert of it last
// joined: at (UnixNano), and after how many starts in its scope
// (scope.starts). Co-firing is learned among alerts that start close
// together, so it speaks for a partner that joined lately (see coRecency).
type sigJoin struct {
	sig    uint64
	at     int64
	starts uint64
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
	return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, xxhash.Sum64(b[:])))
}

func (e *Engine) newIncident(sc *scope, a *quell.Alert, at time.Time) *incident {
	inc := &incident{
		id:       incidentID(a.Fingerprint, at),
		scope:    sc,
		status:   quell.IncidentOpen,
		title:    quell.Printable(Title(a)),
		created:  at,
		updated:  at,
		members:  make(map[quell.Fingerprint]*member),
		nodes:    make(map[int32]nodeUse),
		severity: a.Severity,
	}
	e.incidents[inc.id] = inc
	e.account(inc, incidentOverhead)
	e.changedIncident(inc)
	e.queueEviction(inc)
	e.schedule(timer{at: at.Add(e.cfg.GroupWait), kind: timerAnnounce, inc: inc})
	return inc
}

// has tells whether some member carries t as kind k: an alertname or a
// summary word (entity values are looked up in tokens, see weighValues).
func (inc *incident) has(t uint64, k tokenKind) bool {
	return inc.names.get(t)[k] > 0
}

// tokenFilter is a bit per token hash: a token the incident holds sets its
// bit, and a bit is only cleared when the filter grows (rebuilt from them),
// so a clear bit proves the token absent. Its first 256 bits sit in the
// incident beside the fields every candidate reads; an incident of many
// tokens gets about eight bits a token instead, so that its filter still
// spares weighing most lookups of its large map.
type tokenFilter struct {
	small [4]uint64
	big   []uint64 // when set, the bits (a power of two words)
}

func (f *tokenFilter) bits() []uint64 {
	if f.big != nil {
		return f.big
	}
	return f.small[:]
}

func (f *tokenFilter) add(t uint64) {
	b := f.bits()
	b[t>>6&uint64(len(b)-1)] |= 1 << (t & 63)
}

func (f *tokenFilter) may(t uint64) bool {
	b := f.bits()
	return b[t>>6&uint64(len(b)-1)]&(1<<(t&63)) != 0
}

// fit grows the filter to about eight bits for each token held,
// rebuilding it from them; doubling keeps the cost O(1) a token.
func (f *tokenFilter) fit(tokens *tokenTable) {
	n := tokens.n
	words := len(f.bits())
	if 8*n <= 64*words {
		return
	}
	for 8*n > 32*words { // room for twice as many before the next rebuild
		words *= 2
	}
	f.big, f.small = make([]uint64, words), [4]uint64{}
	tokens.each(f.add)
}

// count adds delta to t's count as kind k, and as kind also unless it is k;
// it returns how many members now carry t as k.
func (inc *incident) count(t uint64, delta int32, k, also tokenKind) int32 {
	if k == asName || k == asWord {
		return inc.names.add(t, delta, k, also)[k]
	}
	c := inc.tokens.add(t, delta, k, also)
	if delta > 0 {
		inc.filter.add(t)
		inc.filter.fit(&inc.tokens)
	}
	return c[k]
}

// index adds (delta 1) or takes away (-1) what one member is and is about,
// and files the incident under the member's values and nodes in its scope;
// g counts the incidents that hold each graph node (see graph.compact).
func (inc *incident) index(in *alertInfo, delta int32, g *graph) {
	for _, ref := range in.subjects() {
		for _, t := range ref.tokens {
			if inc.count(t, delta, asValue, asSubject) == 1 && delta > 0 {
				inc.scope.fileToken(t, inc)
			}
		}
	}
	for _, c := range in.context() {
		for _, t := range c.tokens {
			if inc.count(t, delta, asValue, asValue) == 1 && delta > 0 {
				inc.scope.fileToken(t, inc)
			}
		}
	}
	if in.infra && in.about > 0 {
		inc.machines += int(delta)
	}
	if !in.infra && in.about > 0 {
		// A workload counts once however many members are about it.
		if n := inc.count(in.workload, delta, asWorkload, asWorkload); delta > 0 && n == 1 || delta < 0 && n == 0 {
			inc.workloads += int(delta)
		}
	}
	inc.count(in.name, delta, asName, asName)
	for _, w := range in.words {
		inc.count(w, delta, asWord, asWord)
	}
	for _, n := range in.nodes {
		inc.indexNode(n, delta, g)
	}
	if in.host >= 0 {
		inc.indexHost(in.host, delta, g)
	}
}

// indexNode counts one member more (delta 1) or fewer (-1) about node n.
func (inc *incident) indexNode(n int32, delta int32, g *graph) {
	u, held := inc.nodes[n]
	u.n += delta
	switch {
	case u.n > 0:
		inc.nodes[n] = u
	case held:
		delete(inc.nodes, n)
		g.ref(n, -1)
	}
	if u.n == 1 && delta > 0 {
		inc.scope.fileNode(n, inc)
		g.ref(n, 1)
	}
}

// indexHost counts one member more or fewer running on machine n. The
// machine is no node of the incident's (a shared host relates nothing by
// itself), but an alert held names it: a restart learns it again from the
// alert, so it stays in the graph while held.
func (inc *incident) indexHost(n int32, delta int32, g *graph) {
	c, held := inc.hosts[n]
	c += delta
	switch {
	case c > 0 && inc.hosts == nil: // most incidents run on no machine quell learned
		inc.hosts = map[int32]int32{n: c}
	case c > 0:
		inc.hosts[n] = c
	case held:
		delete(inc.hosts, n)
		g.ref(n, -1)
	}
	if c == 1 && delta > 0 {
		g.ref(n, 1)
	}
}

// unref takes inc, leaving quell's memory (evicted, forgotten, merged
// away), out of the graph's counts, with its nodes.
func (inc *incident) unref(g *graph) {
	for n := range inc.nodes {
		g.ref(n, -1)
	}
	for n := range inc.hosts {
		g.ref(n, -1)
	}
	inc.nodes, inc.hosts = nil, nil
}

// nodeUse is how many members are about a graph node, and when one of
// them was last seen (UnixNano).
type nodeUse struct {
	n  int32
	at int64
}

// heard notes that a member with in's entity values and graph nodes was
// seen at at: a value or node the incident has not heard of for a while
// relates no alert to it any more (see weigh).
func (inc *incident) heard(in *alertInfo, at time.Time) {
	ns := at.UnixNano()
	for _, ref := range in.refs {
		for _, t := range ref.tokens {
			if s := inc.tokens.find(t); s != nil && s.at < ns {
				s.at = ns
			}
		}
	}
	for _, n := range in.nodes {
		if u, ok := inc.nodes[n]; ok && u.at < ns {
			u.at = ns
			inc.nodes[n] = u
		}
	}
}

// noteSig notes that an alert of signature j.sig joined as j tells: a scan
// of at most maxSigs, done once per member.
func (inc *incident) noteSig(j sigJoin) {
	for i := range inc.sigs {
		if s := &inc.sigs[i]; s.sig == j.sig {
			s.at, s.starts = max(s.at, j.at), max(s.starts, j.starts)
			return
		}
	}
	if len(inc.sigs) == maxSigs {
		inc.sigs = inc.sigs[1:]
	}
	inc.sigs = append(inc.sigs, j)
}

// signatures are the signatures it holds, for teaching.
func (inc *incident) signatures() []uint64 {
	out := make([]uint64, len(inc.sigs))
	for i, s := range inc.sigs {
		out[i] = s.sig
	}
	return out
}

// Title names an alert for people (and an incident after the alert that
// opened it): what is wrong and what it is about. The caller escapes it
// for people to read (quell.Printable).
func Title(a *quell.Alert) string {
	name := symptom(a.Labels, a.Annotations, a.Source)
	if _, v := Entity(a.Labels); v != "" {
		return name + " on " + v
	}
	return name
}

// symptom is what an alert says is wrong, in a word or a line.
func symptom(labels, annotations map[string]string, source string) string {
	if name := labels["alertname"]; name != "" {
		return name
	}
	if s := annotations["summary"]; s != "" {
		return s
	}
	return "alert from " + source
}

// Entity is what an alert is about, for people: the first of its
// service, job, instance, host, pod and namespace labels, as label and
// value ("" when it has none). Titles name the value; kinds of incident
// (see package history) the label.
func Entity(labels map[string]string) (label, value string) {
	for _, k := range []string{"service", "job", "instance", "host", "pod", "namespace"} {
		if v := labels[k]; v != "" {
			return k, v
		}
	}
	return "", ""
}

// titledEntities: a title names this many entities, then counts the rest.
const titledEntities = 3

// summary titles an incident for people: its lead symptom (the first
// alert's), the entities its alerts are about, and how many alerts more it
// holds: "HighErrorRate on cart, checkout, payment and 2 more (+11 alerts)".
func (inc *incident) summary() string {
	if len(inc.order) <= 1 {
		return inc.title
	}
	lead := inc.members[inc.order[0]]
	var named []string
	more := 0
	seen := map[string]bool{}
	for _, fp := range inc.order {
		v := inc.members[fp].entity
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		if len(named) < titledEntities {
			named = append(named, v)
		} else {
			more++
		}
	}
	b := []byte(symptom(lead.Labels, lead.Annotations, lead.Source))
	if len(named) > 0 {
		b = append(b, " on "...)
		b = append(b, strings.Join(named, ", ")...)
	}
	if more > 0 {
		b = append(b, " and "...)
		b = strconv.AppendInt(b, int64(more), 10)
		b = append(b, " more"...)
	}
	b = append(b, " (+"...)
	b = strconv.AppendInt(b, int64(len(inc.order)-1), 10)
	if len(inc.order) == 2 {
		b = append(b, " alert)"...)
	} else {
		b = append(b, " alerts)"...)
	}
	return quell.Printable(string(b))
}

// add makes a a firing member of inc (or refreshes it) and indexes it.
func (e *Engine) add(inc *incident, a *quell.Alert, at time.Time, in *alertInfo, reason string) {
	m := inc.members[a.Fingerprint]
	var was int64
	if m == nil {
		m = &member{IncidentAlert: quell.IncidentAlert{Fingerprint: a.Fingerprint, Reason: reason}, pos: inc.joins}
		inc.members[a.Fingerprint] = m
		inc.order = append(inc.order, a.Fingerprint)
		inc.joins++
		inc.index(in, 1, e.graph)
		inc.noteSig(sigJoin{in.sig, at.UnixNano(), inc.scope.starts})
		e.rarity.add(in, 1)
	} else {
		was = memberBytes(m)
	}
	if m.Status != quell.Firing {
		inc.firing++
	}
	m.Source, m.Status, m.Annotations = a.Source, quell.Firing, a.Annotations
	m.setLabels(a.Labels)
	e.account(inc, memberBytes(m)-was)
	m.StartsAt, m.EndsAt = a.StartsAt, a.EndsAt
	m.Count++
	e.sawMember(inc, m, at)
	e.changedMember(inc, a.Fingerprint)
	if a.Severity.Rank() > inc.severity.Rank() {
		inc.severity = a.Severity
	}
	if old := in.inc; old != nil && old != inc {
		e.changedMember(old, a.Fingerprint) // its record gives up the alert's dedupe state
	}
	in.inc = inc
	inc.lastSeen, inc.lastHeard = at, at
	e.touch(inc, at)
	inc.updated = at
}

// touch records activity: an alert joined the incident or fired again in it.
func (e *Engine) touch(inc *incident, at time.Time) {
	e.changedIncident(inc)
	inc.lastActivity = at
	inc.scope.noteActivity(inc)
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
	if in := e.infos[fp]; in != nil {
		inc.index(in, -1, e.graph)
		e.rarity.add(in, -1)
	}
	e.account(inc, -memberBytes(m))
	delete(inc.members, fp)
	e.reheard(inc)
	e.changedMember(inc, fp)
	inc.order = slices.DeleteFunc(inc.order, func(f quell.Fingerprint) bool { return f == fp })
	inc.updated = at
	e.change(inc, quell.IncidentUpdated, at)
	e.maybeResolve(inc, at)
}

// unindexAll takes every member's part out of the rarity counts: the
// incident leaves quell's memory. Its token tables hold what its members
// carry, summed as they were counted in: one update per distinct token, not
// one per member's token (members of one incident share most of theirs).
// Each member carries one alertname: their count is the members counted.
func (e *Engine) unindexAll(inc *incident) {
	for _, s := range inc.tokens.slots {
		if n := s.c[asValue]; n > 0 {
			e.rarity.count(s.t, -n)
		}
	}
	for _, s := range inc.names.slots {
		if n := s.c[asName] + s.c[asWord]; n > 0 {
			e.rarity.count(s.t, -n)
		}
		e.rarity.total -= s.c[asName]
	}
}

// maybeResolve starts the resolve hold once no member fires.
func (e *Engine) maybeResolve(inc *incident, at time.Time) {
	if inc.status == quell.IncidentOpen && inc.firing == 0 {
		e.schedule(timer{at: at.Add(e.cfg.ResolveHold), kind: timerResolve, inc: inc})
	}
}

// change emits an incident's change. Updates (an alert joined, resolved or
// left) are coalesced until EmitUpdates, and an incident's are emitted at
// most every updateWait: a storm of joins makes an update per incident
// every few seconds, not one copy of a growing incident per alert or
// batch. Every change carries the whole incident, so a coalesced update
// loses nothing, and a later change of another kind supersedes it.
func (e *Engine) change(inc *incident, kind quell.ChangeKind, at time.Time) {
	if !inc.announced {
		return // its creation, when announced, carries the state so far
	}
	if kind == quell.IncidentUpdated {
		if !inc.dirty {
			inc.dirty = true
			e.dirty = append(e.dirty, inc)
			e.changedIncident(inc) // the update it owes is part of its state
		}
		inc.dirtyAt = at
		return
	}
	inc.dirty = false
	e.emitChange(inc, kind, at)
}

func (e *Engine) emitChange(inc *incident, kind quell.ChangeKind, at time.Time) {
	e.changedIncident(inc)
	inc.seq++
	inc.emittedAt, inc.emittedSize = e.now, len(inc.order)
	if e.out.Change != nil {
		e.out.Change(quell.IncidentChange{Kind: kind, Incident: e.view(inc), Seq: inc.seq, At: at})
	}
}

// updateGap is how often an incident's updates may leave the engine
// (engine time), for every updateAlerts alerts its last change carried.
// Every change carries the whole incident: without a gap, a storm joining
// incidents of a thousand alerts copied and encoded all of them with every
// batch, which took most of a busy correlator's time; with a gap of a
// second whatever the size, a storm growing incidents to a thousand alerts
// still copied about 16 alerts into updates per alert decided
// (BenchmarkGrowingIncidents). Growing with the incident, the gap keeps
// what an incident's updates copy to about updateAlerts alerts a second.
const (
	updateGap    = time.Second
	updateAlerts = 100
)

// updateWait is how long inc's next update waits after its last change: by
// the size of that change, since a wait by the incident's size as it grows
// would put off its updates for as long as a storm joins it.
func (inc *incident) updateWait() time.Duration {
	return updateGap * time.Duration(1+inc.emittedSize/updateAlerts)
}

// EmitUpdates emits one update for every incident changed since its last
// change left, unless that was under its updateWait ago: those wait for a later
// call. Callers call it after each batch of alerts and clock tick; Flush
// emits every update that waits.
func (e *Engine) EmitUpdates() { e.emitUpdates(false) }

func (e *Engine) emitUpdates(all bool) {
	wait := e.dirty[:0]
	for _, inc := range e.dirty {
		switch {
		case !inc.dirty || inc.mergedInto != nil || inc.evicted:
		case !all && e.now.Sub(inc.emittedAt) < inc.updateWait():
			wait = append(wait, inc)
		default:
			inc.dirty = false
			e.emitChange(inc, quell.IncidentUpdated, inc.dirtyAt)
		}
	}
	clear(e.dirty[len(wait):])
	e.dirty = wait
}

// view copies the incident for readers outside the engine.
func (e *Engine) view(inc *incident) quell.Incident {
	v := quell.Incident{
		ID: inc.id, Status: inc.status, Title: inc.summary(), Severity: inc.severity,
		CreatedAt: inc.created, UpdatedAt: inc.updated, ResolvedAt: inc.resolvedAt, ResolvedBy: inc.resolvedBy,
		AcknowledgedAt: inc.ackedAt, AcknowledgedBy: inc.ackedBy, AssignedTo: inc.assignedTo, Evicted: inc.evicted,
		Alerts: make([]quell.IncidentAlert, 0, len(inc.order)),
	}
	if inc.mergedInto != nil {
		v.MergedInto = inc.mergedInto.id
	}
	if inc.status == quell.IncidentOpen && inc.firing == 0 && len(inc.order) > 0 {
		v.Resolving, v.ClosesAt = true, inc.updated.Add(e.cfg.ResolveHold) // as the resolve timer has it
	}
	for _, fp := range inc.order {
		m := inc.members[fp]
		v.Alerts = append(v.Alerts, m.IncidentAlert)
		if u := m.Annotations["runbook_url"]; u != "" && !slices.Contains(v.Runbooks, u) {
			v.Runbooks = append(v.Runbooks, u)
		}
	}
	return v
}

// Incident returns one incident by id.
func (e *Engine) Incident(id string) (quell.Incident, bool) {
	inc, ok := e.incidents[id]
	if !ok {
		return e.away.get(id)
	}
	return e.view(inc), true
}

// merge moves every member of src into dst; src ceases to exist, and held
// decisions that named it will name dst.
func (e *Engine) merge(dst, src *incident, at time.Time, reason string) {
	e.changedIncident(src)
	for _, fp := range src.order {
		m := src.members[fp]
		in := e.infos[fp]
		e.changedMember(src, fp)
		e.changedMember(dst, fp)
		if have := dst.members[fp]; have != nil {
			have.Count += m.Count
			if m.LastSeen.After(have.LastSeen) {
				have.LastSeen = m.LastSeen
			}
			if in != nil {
				dst.heard(in, have.LastSeen)
			}
			if m.Status == quell.Firing && have.Status != quell.Firing {
				have.Status = quell.Firing
				dst.firing++
			}
			if in != nil {
				e.rarity.add(in, -1) // one alert, counted once
			}
		} else {
			dst.members[fp] = m
			e.account(dst, memberBytes(m))
			dst.order = append(dst.order, fp)
			m.pos = dst.joins
			dst.joins++
			if m.Status == quell.Firing {
				dst.firing++
			}
			if in != nil {
				dst.index(in, 1, e.graph)
				dst.heard(in, m.LastSeen)
			}
		}
		if in != nil && in.inc == src {
			in.inc = dst
		}
	}
	for _, s := range src.sigs {
		dst.noteSig(s)
	}
	if src.severity.Rank() > dst.severity.Rank() {
		dst.severity = src.severity
	}
	if src.lastActivity.After(dst.lastActivity) {
		e.touch(dst, src.lastActivity)
	}
	dst.updated = at
	e.changedIncident(dst)
	src.mergedInto, src.mergeReason = dst, reason
	src.unref(e.graph)
	e.account(src, -src.bytes)
	delete(e.incidents, src.id)
	src.scope.drop(src)
	if !src.announced {
		e.away.note(src, dst, at)
	}
	e.change(dst, quell.IncidentUpdated, at)
}

// sawMember records that member m of inc was seen at at: its LastSeen and
// when inc last heard of its values and nodes move together, since a
// restore rebuilds the one from the other (see reheard).
func (e *Engine) sawMember(inc *incident, m *member, at time.Time) {
	m.LastSeen = at
	if in := e.infos[m.Fingerprint]; in != nil {
		inc.heard(in, at)
	}
}

// reheard recomputes when inc last heard of each value and node from its
// members, as a restored incident does: after a member left, what only it
// carried lately must not look recent.
func (e *Engine) reheard(inc *incident) {
	for i := range inc.tokens.slots {
		inc.tokens.slots[i].at = 0
	}
	for n, u := range inc.nodes {
		u.at = 0
		inc.nodes[n] = u
	}
	for fp, m := range inc.members {
		if in := e.infos[fp]; in != nil {
			inc.heard(in, m.LastSeen)
		}
	}
}
