package correlate

import (
	"fmt"
	"strconv"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// place decides where a new firing (or one that fired again) goes: it
// weighs the evidence of each open incident the index finds for it, joins
// the best if it scores at least JoinScore, and otherwise opens an incident.
func (e *Engine) place(a *quell.Alert, at time.Time, kind dedupe.Kind, flapping bool, cur *incident) {
	e.makeGraphRoom()
	in := e.inspect(a)
	e.rate(in)
	sc := e.scope(in.scope)
	if kind == dedupe.New {
		e.changedScope(sc)
		e.co.observe(sc, in.sig, at)
		if !flapping { // a flapping alert's returns are one noisy alert, not problems starting
			sc.pace.note(at)
			sc.spacing.start(at, in.name)
		}
	} else {
		e.firedAgain(sc, at, in.name)
	}
	// Re-triggered without a resolve, or flapping: the same episode to a
	// person, however its sender toggles it. Unless its whole incident
	// fell silent: then that problem looks over, and the alert goes to
	// an incident that now scores higher, if one does.
	stays := cur != nil && cur.status == quell.IncidentOpen && (kind == dedupe.Retrigger || flapping)
	silent := stays && !flapping && e.silent(cur, at)
	if stays && !silent {
		e.dedupe(cur, a, at, kind, "fired again while its incident is open: stays in it")
		return
	}
	evs := e.weighAll(sc, in, at, cur)
	if silent && (len(evs) == 0 || evs[0].inc == cur || evs[0].score() < e.cfg.JoinScore) {
		// Staying does not end the silence: its alerts that fire again
		// next go to the next problem's incident once there is one.
		heard := cur.lastHeard
		e.dedupe(cur, a, at, kind, "fired again after its incident was silent for "+at.Sub(heard).String()+
			"; no other open incident scored higher: stays in it")
		cur.lastHeard = heard
		return
	}
	if len(evs) == 0 || evs[0].score() < e.cfg.JoinScore {
		reason := "no open incident in its scope could take it"
		if len(evs) > 0 {
			b := append(e.reasonBuf[:0], "no open incident scored "...)
			b = strconv.AppendFloat(b, e.cfg.JoinScore, 'f', 2, 64)
			b = append(b, " or more; best "...)
			b = append(b, evs[0].inc.id...)
			b = append(b, ' ')
			e.reasonBuf = e.appendReason(b, &evs[0])
			reason = string(e.reasonBuf)
		}
		if e.full != nil {
			reason += "; incident " + e.full.id + " is full: it " + e.whyFull(e.full)
		}
		e.leave(cur, a.Fingerprint, at, &reason)
		e.open(sc, a, at, in, reason)
		return
	}
	best := &evs[0]
	e.reasonBuf = e.appendRunnerUp(e.appendReason(e.reasonBuf[:0], best), evs)
	reason := string(e.reasonBuf)
	switch {
	case best.inc == cur && cur.status == quell.IncidentOpen:
		e.touch(cur, at)
		e.dedupe(cur, a, at, kind, "fired again, "+reason)
	case best.inc == cur:
		e.reopen(cur, a, at, in, reason)
	default:
		dst := e.mergeYoung(best.inc, evs[1:], in, at)
		if dst != best.inc {
			reason += "; it links incidents that merged into " + dst.id
		}
		e.leave(cur, a.Fingerprint, at, &reason)
		e.join(dst, a, at, in, reason)
	}
}

// silentReports: an incident none of whose alerts fired again for this many
// of their report intervals (TimeScale at least) has gone silent.
const silentReports = 2

// silent tells whether inc's alerts all stopped reporting for a while:
// longer than silentReports of their intervals, once those are known.
func (e *Engine) silent(inc *incident, at time.Time) bool {
	return inc.cadence > 0 && at.Sub(inc.lastHeard) > e.reports(inc)
}

// reports is silentReports of inc's report intervals, TimeScale at least
// for each.
func (e *Engine) reports(inc *incident) time.Duration {
	return silentReports * max(inc.cadence, e.cfg.TimeScale)
}

// leave takes an alert that fired again elsewhere out of its open incident.
func (e *Engine) leave(cur *incident, fp quell.Fingerprint, at time.Time, reason *string) {
	if cur != nil && cur.status == quell.IncidentOpen {
		*reason += "; moved from incident " + cur.id
		if e.silent(cur, at) {
			*reason += ", whose alerts were all silent for " + at.Sub(cur.lastHeard).String()
		}
		e.remove(cur, fp, at)
	}
}

// appendRunnerUp names the second best candidate, so that an operator sees why
// the alert did not go there.
func (e *Engine) appendRunnerUp(b []byte, evs []evidence) []byte {
	if len(evs) < 2 {
		return append(b, "; no other candidate"...)
	}
	b = append(b, "; runner-up "...)
	b = append(b, evs[1].inc.id...)
	b = append(b, ' ')
	return e.appendReason(b, &evs[1])
}

// weighAll weighs every candidate; the best comes first and the runner-up
// second (ties: the older incident), the rest in no order.
func (e *Engine) weighAll(sc *scope, in *alertInfo, at time.Time, cur *incident) []evidence {
	evs := e.evs[:0]
	e.prepare(&e.partners, in.sig)
	for _, inc := range e.candidates(sc, in, at, cur) {
		evs = append(evs, evidence{})
		e.weigh(&evs[len(evs)-1], in, inc, inc == cur, at)
	}
	for top := 0; top < 2 && top < len(evs); top++ {
		best := top
		for i := top + 1; i < len(evs); i++ {
			if better(&evs[i], &evs[best]) {
				best = i
			}
		}
		evs[top], evs[best] = evs[best], evs[top]
	}
	e.evs = evs
	return evs
}

// better orders evidence: the higher score, then the older incident.
func better(a, b *evidence) bool {
	if a.total != b.total {
		return a.total > b.total
	}
	return before(a.inc, b.inc)
}

// Candidates per source: the incidents most recently active, and per
// entity value or graph node the incidents that most recently took one.
const (
	recentCandidates = 8
	tokenCandidates  = 16
	nodeCandidates   = 8
	nodesVisited     = 64
	// minFindInfo: a value less rare than this (in nats; 1 is about one
	// alert in three) does not find candidates.
	minFindInfo = 1.0
)

// candidates finds the open incidents that could take an alert through the
// scope's index (by time, entity value and graph node), never a scan. The
// first it finds that is active but capped is e.full.
func (e *Engine) candidates(sc *scope, in *alertInfo, at time.Time, cur *incident) []*incident {
	e.stamp++
	e.full = nil
	out := e.cands[:0]
	take := func(inc *incident) bool {
		if inc.stamp == e.stamp {
			return false
		}
		inc.stamp = e.stamp
		if inc == cur { // open, or resolved and may reopen
			if cur.status == quell.IncidentOpen || at.Sub(cur.resolvedAt) <= e.cfg.ReopenWindow && !cur.evicted {
				out = append(out, inc)
				return true
			}
			return false
		}
		if !e.takes(inc, at) {
			if e.full == nil && e.active(inc, at) && e.capped(inc, at) {
				e.full = inc
			}
			return false
		}
		out = append(out, inc)
		return true
	}
	if cur != nil {
		take(cur)
	}
	n := 0
	oldest := at.Add(-e.cfg.Window)
	for inc := sc.newest; inc != nil && n < recentCandidates; inc = inc.older {
		if inc.lastActivity.Before(oldest) {
			break
		}
		if take(inc) {
			n++
		}
	}
	// Lists hold dead incidents until a sweep: look at a few more than
	// the limit, not the whole list.
	each := func(list []*incident, limit int) {
		n := 0
		for i := len(list) - 1; i >= 0 && i >= len(list)-4*limit && n < limit; i-- {
			if take(list[i]) {
				n++
			}
		}
	}
	// A value most alerts carry (namespace=prod) finds nothing worth
	// weighing: its evidence is nil.
	byValue := func(ref entityRef) {
		for i, t := range ref.tokens {
			if ref.infos[i] >= minFindInfo {
				each(sc.byToken[t], tokenCandidates)
			}
		}
	}
	for _, ref := range in.subjects() {
		byValue(ref)
	}
	for _, c := range in.context() {
		byValue(c)
	}
	for _, node := range in.nodes {
		if e.graph.degree(node) == 0 {
			each(sc.byNode[node], nodeCandidates)
			continue
		}
		r := e.graph.from(node)
		for i, m := range r.order {
			if i == nodesVisited {
				break
			}
			each(sc.byNode[m], nodeCandidates)
		}
	}
	e.cands = out
	return out
}

// takes tells whether an open incident still takes new alerts.
func (e *Engine) takes(inc *incident, at time.Time) bool {
	return e.active(inc, at) && !e.capped(inc, at)
}

// active tells whether an incident is open, on its own (not merged or
// reopened) and had activity within Window.
func (e *Engine) active(inc *incident, at time.Time) bool {
	return inc.status == quell.IncidentOpen && inc.mergedInto == nil && !inc.reopened && at.Sub(inc.lastActivity) <= e.cfg.Window
}

// capped tells whether an incident holds MaxAlerts or is older than MaxAge:
// it takes no new alerts, and one it would have taken opens an incident
// beside it, whose reason says so (see whyFull).
func (e *Engine) capped(inc *incident, at time.Time) bool {
	return len(inc.order) >= e.cfg.MaxAlerts || at.Sub(inc.created) > e.cfg.MaxAge
}

// whyFull words which cap a capped incident reached.
func (e *Engine) whyFull(inc *incident) string {
	if len(inc.order) >= e.cfg.MaxAlerts {
		return "holds correlate.max_alerts (" + strconv.Itoa(e.cfg.MaxAlerts) + ") alerts"
	}
	return "is older than correlate.max_age (" + e.cfg.MaxAge.String() + ")"
}

// mergeYoung merges into one the incidents that one alert links: the best
// and every other open candidate that would take the alert on evidence
// beyond time alone, or on time alone if the alert is about a machine (a
// node's trouble shows on what runs there: workloads failing with it are
// one problem), unless the scope is busy (see pace): there a machine links
// only what it relates to. The oldest survives; of the others, those still
// young enough to merge away unannounced merge into it. It returns the
// incident the alert joins.
func (e *Engine) mergeYoung(best *incident, others []evidence, in *alertInfo, at time.Time) *incident {
	group := []*incident{best}
	busy := in.infra && best.scope.pace.busy(at)
	for i := range others {
		ev := &others[i]
		links := ev.entity >= entityLink || in.infra && (ev.related || !busy)
		if links && ev.inc.status == quell.IncidentOpen && (e.young(ev.inc, at) || ev.time > 0) && ev.score() >= e.cfg.JoinScore {
			group = append(group, ev.inc)
		}
	}
	if len(group) == 1 {
		return best
	}
	dst := group[0]
	for _, inc := range group[1:] {
		if before(inc, dst) {
			dst = inc
		}
	}
	why := "one alert linked both"
	if in.infra {
		why = "an alert about machine " + in.subject().value + " came to both"
	}
	for _, inc := range group {
		if inc != dst && e.young(inc, at) {
			e.merge(dst, inc, at, fmt.Sprintf("merged into incident %s: %s while %s was young", dst.id, why, inc.id))
		}
	}
	if best.mergedInto != nil {
		return dst
	}
	return best
}

// young tells whether an incident may still merge away: unannounced and
// younger than GroupWait.
func (e *Engine) young(inc *incident, at time.Time) bool {
	return !inc.announced && at.Sub(inc.created) < e.cfg.GroupWait
}
