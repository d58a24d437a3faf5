package correlate

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/quellhq/quell"
)

// bound evicts incidents while quell holds more than MaxIncidents of them,
// more than MaxTrackedAlerts alerts or more than MaxStateBytes in them:
// resolved ones first, then the open one that went longest without activity.
func (e *Engine) bound(at time.Time) {
	for {
		var why string
		switch {
		case len(e.incidents) > e.cfg.MaxIncidents || e.tracker.Len() > e.cfg.MaxTrackedAlerts:
			why = fmt.Sprintf("quell holds at most %d incidents and %d alerts (correlate.max_incidents, max_tracked_alerts)",
				e.cfg.MaxIncidents, e.cfg.MaxTrackedAlerts)
		case e.overBytes():
			why = e.overBytesWhy()
		default:
			return
		}
		victim := e.nextVictim()
		if victim == nil {
			return
		}
		e.evict(victim, at, why)
	}
}

// evict drops an incident and what is known of its alerts, and records it:
// a decision naming the incident and an "evicted" change, unless it had
// resolved after it was announced (its receivers know it ended).
func (e *Engine) evict(inc *incident, at time.Time, why string) {
	wasOpen := inc.status == quell.IncidentOpen
	if len(inc.order) > 0 {
		// While the incident is young its alerts' decisions are held, and
		// this one goes out after them. People read it in the timeline.
		state, alerts := "after it resolved", "its alert"
		if wasOpen {
			state = "while open"
		}
		if n := len(inc.members); n > 1 {
			alerts = fmt.Sprintf("its %d alerts", n)
		}
		e.decide(memberAlert(inc.members[inc.order[0]]), inc, quell.ActionSuppressed, fmt.Sprintf(
			"evicted %s, with %s: %s, and this one went longest without activity", state, alerts, why), at)
	}
	// Never announced: the eviction is its only change, a resolved
	// incident its receivers hear of once. Announced first, a flood of
	// unrelated alerts at the bound opened and at once closed a ticket
	// per incident, and sent every incident whole twice.
	unannounced := !inc.announced
	if unannounced {
		inc.announced = true
		e.deadTimers++ // its announce timer (see dead)
	}
	e.changedIncident(inc)
	inc.evicted = true
	if e.out.Evicted != nil {
		e.out.Evicted(inc.id, len(inc.members), wasOpen, why)
	}
	if wasOpen {
		inc.status = quell.IncidentResolved
		inc.resolvedAt = at
		inc.updated = at
	}
	if wasOpen || unannounced {
		e.change(inc, quell.IncidentEvicted, at)
	}
	inc.resolvedAt = at.Add(-e.cfg.ReopenWindow - 1) // evicted: never reopened
	e.drop(inc, e.forgetAlert)
}

// evictKey is what orders an incident for eviction and changes while it
// waits in the queue: resolved before open, then the one that went longest
// without activity (see evictEntry.before).
type evictKey struct {
	open     bool
	lastSeen time.Time
}

func keyOf(inc *incident) evictKey {
	return evictKey{open: inc.status == quell.IncidentOpen, lastSeen: inc.lastSeen}
}

// entryOf is inc's entry in the eviction queue under its current key.
func entryOf(inc *incident) evictEntry { return evictEntry{keyOf(inc), inc} }

// before orders entries by their keys; of incidents last active at the same
// moment (the alerts of one webhook share it), the one opened first goes
// first (see before). Not the ones opened a moment ago: under a flood those
// hold an alert each, evicting one frees little, and the flood's next
// alerts were about to join them; evicting them, a flood sent in webhooks
// opened an incident for every other alert.
func (a evictEntry) before(b evictEntry) bool {
	if a.key.open != b.key.open {
		return !a.key.open
	}
	if !a.key.lastSeen.Equal(b.key.lastSeen) {
		return a.key.lastSeen.Before(b.key.lastSeen)
	}
	return before(a.inc, b.inc)
}

// evictQueue finds the next incident to evict in O(log n), not by a scan of
// every incident. It is lazy: an entry holds the key its incident had when
// it was queued. Activity only moves an incident later (lastSeen grows, a
// reopen makes it open), so its entry stays at or before its place and is
// corrected when it surfaces; what moves an incident earlier (resolving)
// queues it again.
type evictQueue []evictEntry

type evictEntry struct {
	key evictKey
	inc *incident
}

func (q evictQueue) Len() int           { return len(q) }
func (q evictQueue) Less(i, j int) bool { return q[i].before(q[j]) }
func (q evictQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *evictQueue) Push(x any)        { *q = append(*q, x.(evictEntry)) }
func (q *evictQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// queueEviction queues inc under its current key. Entries of incidents
// gone meanwhile are dropped whenever they outnumber the live ones.
func (e *Engine) queueEviction(inc *incident) {
	if len(e.evictq) > 2*len(e.incidents)+64 {
		q := make(evictQueue, 0, len(e.incidents))
		for _, live := range e.incidents {
			q = append(q, entryOf(live))
		}
		heap.Init(&q)
		e.evictq = q
	}
	heap.Push(&e.evictq, entryOf(inc))
}

// nextVictim returns the incident that goes first, or nil without one.
func (e *Engine) nextVictim() *incident {
	for len(e.evictq) > 0 {
		top := e.evictq[0]
		if e.incidents[top.inc.id] != top.inc {
			heap.Pop(&e.evictq) // gone: merged, forgotten or evicted
			continue
		}
		if cur := keyOf(top.inc); cur != top.key {
			e.evictq[0].key = cur
			heap.Fix(&e.evictq, 0)
			continue
		}
		return top.inc
	}
	return nil
}
