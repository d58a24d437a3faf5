package correlate

import (
	"container/heap"
	"time"

	"github.com/quellhq/quell"
)

type timerKind uint8

const (
	timerResolve  timerKind = iota // an incident's resolve hold may have passed
	timerExpire                    // a firing alert's announced end may have passed
	timerSettle                    // a flapping alert may have calmed down
	timerForget                    // a resolved incident's reopen window may have passed
	timerAnnounce                  // a new incident is old enough to no longer merge away
)

// timer is a deadline. Timers are never cancelled: each handler checks that
// what it was set for still holds, which keeps every state change O(log n).
type timer struct {
	at   time.Time
	kind timerKind
	seq  uint64 // insertion order, so equal deadlines fire deterministically
	inc  *incident
	fp   quell.Fingerprint
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (e *Engine) schedule(t timer) {
	e.timerSeq++
	t.seq = e.timerSeq
	heap.Push(&e.timers, t)
}

// armedSeqs are the seqs of one alert's pending deadline timers, by kind
// (see slot); 0 for none. One map entry an alert, keyed by its fingerprint
// alone: forgetting an alert is one lookup.
type armedSeqs [2]uint64

// slot is where armedSeqs keeps a deadline of kind (expiry, settling).
func slot(kind timerKind) int { return int(kind - timerExpire) }

// arm sets an alert's deadline of a kind unless one is pending: an alert
// sent again and again (Prometheus re-sends firing alerts every minute)
// keeps one timer, not one per occurrence. The handler checks the state
// when the timer fires and arms again if the deadline moved.
func (e *Engine) arm(kind timerKind, fp quell.Fingerprint, at time.Time) {
	s := e.armed[fp]
	if s[slot(kind)] != 0 {
		return
	}
	e.schedule(timer{at: at, kind: kind, fp: fp})
	s[slot(kind)] = e.timerSeq
	e.armed[fp] = s
}

// fired notes that an alert's deadline timer of kind fired.
func (e *Engine) fired(kind timerKind, fp quell.Fingerprint) {
	s := e.armed[fp]
	if s[slot(kind)] = 0; s == (armedSeqs{}) {
		delete(e.armed, fp)
	} else {
		e.armed[fp] = s
	}
}

// disarm drops a forgotten alert's pending deadlines. Their timers stay in
// the heap, dead (fire skips them), until they are the majority: then the
// heap is rebuilt without them. Under a flood of new alerts that are
// evicted long before their deadlines (resolve_timeout is minutes), the
// heap would otherwise hold every alert seen in those minutes.
func (e *Engine) disarm(fp quell.Fingerprint) {
	if s, ok := e.armed[fp]; ok {
		for _, seq := range s {
			if seq != 0 {
				e.deadTimers++
			}
		}
		delete(e.armed, fp)
	}
	if e.deadTimers > 1024 && e.deadTimers > len(e.timers)/2 {
		live := e.timers[:0]
		for _, t := range e.timers {
			if !e.dead(t) {
				live = append(live, t)
			}
		}
		clear(e.timers[len(live):])
		e.timers = live
		heap.Init(&e.timers)
		e.deadTimers = 0
	}
}

// dead says whether t is the timer of a deadline disarmed since it was set.
func (e *Engine) dead(t timer) bool {
	switch t.kind {
	case timerExpire, timerSettle:
		return e.armed[t.fp][slot(t.kind)] != t.seq
	case timerAnnounce:
		return t.inc.evicted // its eviction went out instead (see evict)
	}
	return false
}

// Advance moves the engine's clock to now, firing every deadline reached.
func (e *Engine) Advance(now time.Time) {
	if len(e.opened) > 0 && now.After(e.now) {
		e.settle()
	}
	for len(e.timers) > 0 && !e.timers[0].at.After(now) {
		t := heap.Pop(&e.timers).(timer)
		if e.dead(t) {
			e.deadTimers--
			continue
		}
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

// Tick is Advance for a clock tick that brings no alert: it also evicts
// what the bounds no longer allow, which a StateBudget shared with busier
// engines may have come to.
func (e *Engine) Tick(now time.Time) {
	e.Advance(now)
	e.bound(e.now)
}

// Flush decides and emits everything still held, as at the end of a replay;
// deadlines that only time would reach (resolve holds, expiries) stay unfired.
func (e *Engine) Flush() {
	e.settle()
	var rest timerHeap
	for len(e.timers) > 0 {
		t := heap.Pop(&e.timers).(timer)
		if e.dead(t) {
			e.deadTimers--
		} else if t.kind == timerAnnounce {
			e.fire(t)
		} else {
			rest = append(rest, t)
		}
	}
	e.timers = rest
	heap.Init(&e.timers)
	e.release(e.now, true)
	e.emitUpdates(true)
}

// announce sends out an incident's creation, and its resolve if it
// resolved while young.
func (e *Engine) announce(inc *incident, at time.Time) {
	e.changedIncident(inc)
	inc.announced = true
	e.change(inc, quell.IncidentCreated, at)
	if inc.status == quell.IncidentResolved {
		e.change(inc, quell.IncidentResolve, at)
	}
}

func (e *Engine) fire(t timer) {
	switch t.kind {
	case timerAnnounce:
		if inc := t.inc; inc.mergedInto == nil && !inc.announced {
			e.announce(inc, t.at)
		}
	case timerResolve:
		inc := t.inc
		if inc.mergedInto == nil && inc.status == quell.IncidentOpen && inc.firing == 0 && !t.at.Before(inc.updated.Add(e.cfg.ResolveHold)) {
			e.resolve(inc, t.at, "")
		}
	case timerExpire:
		e.fired(t.kind, t.fp)
		st := e.tracker.Get(t.fp)
		e.changedAlert(t.fp)
		switch {
		case st == nil || st.Status != quell.Firing || st.ExpiresAt.IsZero():
		case st.ExpiresAt.After(t.at): // refreshed since: wait for the new end
			e.arm(timerExpire, t.fp, st.ExpiresAt)
		case st.Flapping: // expires once it calms down (see timerSettle)
		default:
			e.tracker.Expire(st, t.at)
			if inc := e.incidentOf(t.fp); inc != nil {
				e.markResolved(inc, inc.members[t.fp], t.at, t.at)
			}
		}
	case timerSettle:
		e.fired(t.kind, t.fp)
		st := e.tracker.Get(t.fp)
		e.changedAlert(t.fp)
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
			if inc := e.incidentOf(t.fp); inc != nil {
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
	e.drop(inc, e.forgetState)
}

// drop takes an incident out of memory and lets forget deal with each of
// its alerts that no other incident holds, in join order (deterministic).
func (e *Engine) drop(inc *incident, forget func(quell.Fingerprint)) {
	e.droppedMembers(inc)
	e.unindexAll(inc)
	inc.unref(e.graph)
	e.account(inc, -inc.bytes)
	delete(e.incidents, inc.id)
	for _, fp := range inc.order {
		if in := e.infos[fp]; in != nil && in.inc == inc {
			in.inc = nil
			forget(fp)
		}
	}
	inc.scope.drop(inc)
	// Timers and the index's posting lists may point at inc a while longer
	// (an announce timer for GroupWait: under a flood, many evicted
	// incidents); its alerts and what indexes them need not live as long.
	inc.members, inc.order = nil, nil
	inc.tokens, inc.names, inc.workloads = tokenTable{}, tokenTable{}, 0
	inc.sigs = nil
}

// forgetState drops what is known of a resolved alert that no incident holds,
// once its state changes have left the flap window (flapping needs them).
func (e *Engine) forgetState(fp quell.Fingerprint) {
	st := e.tracker.Get(fp)
	if st == nil || st.Status != quell.Resolved || e.incidentOf(fp) != nil {
		return
	}
	if n := len(st.Changes); n > 0 && e.now.Sub(st.Changes[n-1]) < e.cfg.Flapping.Window {
		e.arm(timerSettle, fp, st.Changes[n-1].Add(e.cfg.Flapping.Window))
		return
	}
	e.forgetAlert(fp)
}
