package correlate

import (
	"math"
	"time"

	"github.com/quellhq/quell"
)

// The evidence that an alert belongs to an incident, each source in nats
// (log-odds): they add up to a score, and the score's logistic is the
// number reasons print (0 to 1). Every source is graded; none has a cliff.
//
// The weights are chosen on generated systems of many shapes (bench/quality)
// and checked on real ones; see the README's quality section.
const (
	// prior: an alert and an open incident, knowing nothing else.
	prior = -1.0
	// timeNow is the time evidence of an alert at the incident's last
	// activity; it falls by timeFall per e-fold of 1+Δ/TimeScale.
	timeNow  = 4.0
	timeFall = 4.5
	// subjectShare scales a shared value that is what the alert, or a
	// member of the incident, is about; contextShare one that is only
	// context on both sides (the exporter's job, the namespace).
	subjectShare = 0.5
	contextShare = 0.15
	// sameAlert: the alert was a member of the incident before.
	sameAlert = 3.4
	// nameShare: a shared alertname or summary words, times their rarity.
	nameShare = 0.25
	// coShare: co-firing learned online, at full share and count.
	coShare = 1.5
	// coCount: co-firings needed before co-occurrence counts fully.
	coCount = 5.0
	// stranger: the alert is about a workload the incident is not, and
	// nothing relates the two; the time evidence then does not count.
	stranger = -0.5
	// entityLink: evidence beyond time from which one alert links two young
	// incidents into one (see mergeYoung).
	entityLink = 1.0
)

// hopEvidence is the graph evidence by distance: 0 hops (one node) to 8.
var hopEvidence = [...]float64{1.5, 1.2, 0.8, 0.45, 0.2, 0.1, 0.05, 0.025, 0.01}

// evidence is one incident's case for taking an alert. What a reason
// tells is kept as data and worded only for the decisions that print it.
type evidence struct {
	inc      *incident
	total    float64
	since    time.Duration
	resolved bool          // since counts from when the incident resolved (its own alert's; see weighTime)
	cadence  time.Duration // the incident's, when it weighed in the time evidence
	spaced   time.Duration // the scope's spacing scale, when it weighed in instead (see Spacing)
	time     float64
	entity   float64
	by       entityKind
	ref      *entityRef // by == byShare: the value shared (the alert's)
	token    uint64     // its token
	hops     int        // by == byGraph
	from, to int32      // by == byGraph: the nearest nodes
	name     float64
	alike    float64 // share of the summary alike; 0: the alertname if name > 0
	co       float64
	coN      uint32
	coSince  time.Duration // how long ago an alert it co-fired with joined, when that weighed less (see coRecency)
	taught   float64       // a person grouped (> 0) or set apart (< 0) its signature and the incident's
	stranger bool
	busy     bool // a stranger for the scope is busy, not for the incident is young
	nameless bool // a stranger that names no entity at all
	machine  bool // a stranger about a machine
	related  bool // a shared subject value or a graph path: not strangers
	near     bool // a shared subject value, or the incident's graph node or a neighbour of it (see timeEvidence)
	hostOnly bool // by == byGraph: the path only says they share a host, in a busy scope
	// quiet is a value the alert is about that the incident holds but
	// has not heard of for quietFor: it relates nothing.
	quiet    *entityRef
	quietFor time.Duration
}

type entityKind uint8

const (
	byNothing entityKind = iota
	bySameAlert
	byShare
	byGraph
)

// score is the logistic of the evidence: the number reasons print.
func (ev *evidence) score() float64 { return 1 / (1 + math.Exp(-ev.total)) }

// timeEvidence fades with the time since the incident's last activity, on
// the scale of TimeScale or, for alerts that report less often, half
// their cadence: the silence between two evaluations is no sign of an end.
// For an alert near the incident (a shared subject, the same graph node
// or a neighbour) the first half of that cadence does not count at all: a
// symptom of the same problem that shows at the incident's next evaluation
// is on time. Not for a path of two hops or more: where alerts come in
// evaluation batches, every batch carries unrelated problems too, and most
// services are a few hops from a big incident; such a path is weak
// evidence (see hopEvidence), not a reason to forgive an evaluation's
// silence.
// With no cadence, spaced (the scope's, see Spacing; 0 for none) is the
// scale where it is longer.
func (e *Engine) timeEvidence(d, cadence, spaced time.Duration, near bool) float64 {
	if near {
		d = max(0, d-cadence/2)
	}
	scale := max(e.cfg.TimeScale, cadence/2, spaced)
	// math.Log, in assembly, rather than Log1p: this runs for every
	// candidate, and the ratio is never small enough for Log1p to differ.
	return timeNow - timeFall*math.Log(1+float64(d)/float64(scale))
}

// weigh gathers the evidence that inc should take the alert: each source
// below is one function, to be read, tuned or replaced on its own.
func (e *Engine) weigh(ev *evidence, in *alertInfo, inc *incident, own bool, at time.Time) {
	*ev = evidence{inc: inc}
	if own {
		ev.entity, ev.by = sameAlert, bySameAlert
	}
	// A value or node the incident has not heard of for Window no longer
	// relates alerts to it, as a whole incident that quiet takes none;
	// once its alerts' report interval is known, nor one silent for
	// silentReports of them (see silent).
	quiet := e.cfg.Window
	if inc.cadence > 0 {
		quiet = min(quiet, e.reports(inc))
	}
	now := at.UnixNano()
	fresh := now - int64(quiet)
	e.weighValues(ev, in, inc, now, fresh)
	e.weighGraph(ev, in, inc, fresh, at)
	e.weighTime(ev, in, inc, own, at)
	e.weighNames(ev, in, inc)
	e.weighCofiring(ev, inc, now)
	e.markStranger(ev, in, inc, own, at)
	ev.nameless = ev.stranger && in.about == 0
	ev.machine = ev.stranger && in.infra
	ev.total = prior + ev.entity + ev.name + ev.co + ev.taught
	if ev.stranger {
		ev.total += stranger
	} else {
		ev.total += ev.time
	}
}

// weighTime: the time since the incident's last activity (since it
// resolved, for the alert's own resolved incident), fading with no cliff;
// it reads what weighValues and weighGraph found of a relation.
func (e *Engine) weighTime(ev *evidence, in *alertInfo, inc *incident, own bool, at time.Time) {
	ev.since = at.Sub(inc.lastActivity)
	if own && inc.status == quell.IncidentResolved {
		ev.since, ev.resolved = at.Sub(inc.resolvedAt), true // its problem went away that long ago
	}
	near := ev.near && !own
	// The scope's spacing, minutes where a detector reports, is for alerts
	// related to the incident: a stranger that lenient joined the next
	// fault to the last one's incident.
	if inc.cadence == 0 && ev.related {
		if sp := inc.scope.spacing.scale(at, e.cfg.Window, in.name); sp > e.cfg.TimeScale {
			ev.spaced = sp
		}
	}
	ev.time = e.timeEvidence(ev.since, inc.cadence, ev.spaced, near)
	if near && ev.since > 0 || inc.cadence/2 > e.cfg.TimeScale {
		ev.cadence = inc.cadence
	}
}

// weighValues: entity values the alert shares with the incident's alerts,
// weighted by rarity; full weight for what either side is about, less for
// context on both sides.
func (e *Engine) weighValues(ev *evidence, in *alertInfo, inc *incident, now, fresh int64) {
	share := func(ref *entityRef, subject bool) {
		for i, t := range ref.tokens {
			// Once a relation is known, a value that could not weigh more
			// than what was found changes nothing: no lookup.
			if ev.related && subjectShare*ref.infos[i] <= ev.entity || !inc.filter.may(t) {
				continue
			}
			slot := inc.tokens.find(t)
			if slot == nil || slot.c[asValue] == 0 {
				continue
			}
			if slot.at < fresh {
				if subject && ev.quiet == nil { // for the reason: why it does not relate
					ev.quiet, ev.quietFor = ref, time.Duration(now-slot.at)
				}
				continue
			}
			c := slot.c
			w := contextShare
			if subject || c[asSubject] > 0 {
				w = subjectShare
				ev.related, ev.near = true, true
			}
			if v := w * ref.infos[i]; v > ev.entity {
				ev.entity, ev.by, ev.ref, ev.token = v, byShare, ref, t
			}
		}
	}
	for i := range in.refs {
		share(&in.refs[i], i < in.about)
	}
}

// weighGraph: the shortest distance between the alert's graph nodes and
// the incident's, graded by hops up to MaxHops. A path through a machine
// quell learned says the two ends run on one host: in a busy scope (see
// pace) that does not relate them, and once the incident is past its
// first report intervals (see early) it counts nothing; the reason then
// names the path only when nothing else does.
func (e *Engine) weighGraph(ev *evidence, in *alertInfo, inc *incident, fresh int64, at time.Time) {
	if len(in.nodes) == 0 || len(inc.nodes) == 0 {
		return
	}
	if d, from, to, ok := e.graph.nearest(in.nodes, inc.nodes, fresh); ok {
		hostOnly := d >= 2 && e.graph.viaHost(e.graph.from(from), to) && inc.scope.pace.busy(at)
		w := hopEvidence[d]
		if hostOnly && !e.early(inc, at) {
			w = 0
		}
		ev.related = ev.related || !hostOnly
		ev.near = ev.near || d <= 1
		if w > ev.entity || ev.by == byNothing {
			ev.entity, ev.by, ev.hops, ev.from, ev.to, ev.hostOnly = w, byGraph, d, from, to, hostOnly
		}
	}
}

// weighNames: the same alertname, or summary words in common, weighted by
// rarity.
func (e *Engine) weighNames(ev *evidence, in *alertInfo, inc *incident) {
	if inc.has(in.name, asName) {
		ev.name = nameShare * in.nameInfo
	}
	if all := in.wordsInfo; all > 0 {
		var shared float64
		for i, w := range in.words {
			if inc.has(w, asWord) {
				shared += in.wordInfos[i]
			}
		}
		if v := nameShare * maxInfo * shared / all; shared > 0 && v > ev.name {
			ev.name, ev.alike = v, shared/all
		}
	}
}

// weighCofiring: how often the alert's signature fired together with one
// of the incident's before (learned online, see cooccur), less the longer
// ago an alert of that one joined (see coRecency), and what people said of
// the two (see teaching); e.partners holds the alert's partners.
func (e *Engine) weighCofiring(ev *evidence, inc *incident, now int64) {
	c := e.partners.with(inc, now)
	if c.n > 1 {
		ev.co, ev.coN = coShare*c.share*min(1, float64(c.n)/coCount)*c.recency, c.n
		if c.recency < 1 {
			ev.coSince = c.since
		}
	}
	ev.taught = c.taught
}

// markStranger: the alert is about another workload than the incident (or
// names none), and nothing relates the two. While the incident is young
// (GroupWait: it may still merge) and about one or two workloads, time
// alone does not pull a stranger in: unrelated workloads failing at once
// are problems of their own. Once a problem is under way, or has spread
// further, a stranger arriving during it most likely belongs to it, unless
// the scope is busy (see pace): there unrelated problems start during any
// problem, and time alone pulls no stranger in. A machine is no stranger
// to workloads, nor they to it: a host's trouble shows on what runs there,
// and what runs where is seldom known. In a busy scope only while the
// incident is in its first report intervals (silentReports of them, as
// silent counts): a host's trouble shows on its workloads at once, and an
// incident that once held a machine would otherwise take every problem
// that starts later, and grow for as long as problems keep starting. To
// a young incident about no workload (machines, or nothing named)
// anything but a workload of those machines is a stranger: hosts failing
// at once with nothing relating them are problems of their own too.
func (e *Engine) markStranger(ev *evidence, in *alertInfo, inc *incident, own bool, at time.Time) {
	if own || ev.related || ev.co != 0 || ev.taught > 0 {
		return
	}
	young := at.Sub(inc.created) < e.cfg.GroupWait
	if inc.workloads == 0 {
		workload := in.about > 0 && !in.infra
		ev.stranger = young && !(workload && inc.machines > 0)
		return
	}
	if (in.infra || inc.machines > 0) && (e.early(inc, at) || !inc.scope.pace.busy(at)) {
		return
	}
	switch {
	case inc.workloads < 3 && young:
		ev.stranger = true
	case inc.scope.pace.busy(at):
		ev.stranger, ev.busy = true, true
	}
}

// early tells whether inc is in its first report intervals (silentReports
// of them, as silent counts, TimeScale at least): while a host's trouble
// is still showing on what runs there.
func (e *Engine) early(inc *incident, at time.Time) bool {
	return at.Sub(inc.created) < e.reports(inc)
}
