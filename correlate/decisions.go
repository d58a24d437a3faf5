package correlate

import (
	"github.com/quellhq/quell"
	"time"
)

// decide records the decision for one occurrence. A decision naming an
// incident younger than GroupWait is held that long (see release): the
// incident may still merge into another, and the record must name where the
// alert ended up. Every other decision goes out at once.
func (e *Engine) decide(a *quell.Alert, inc *incident, action quell.Action, reason string, at time.Time) {
	e.record(quell.Decision{Alert: *a, Action: action, Reason: reason, At: at}, inc)
}

// record emits d, naming inc, or holds it while inc is young (see decide).
func (e *Engine) record(d quell.Decision, inc *incident) {
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
		e.held, e.heldHead, e.heldBase = nil, 0, e.heldBase+uint64(n) // after a storm, give the memory back
	case n == len(e.held):
		e.held, e.heldHead, e.heldBase = e.held[:0], 0, e.heldBase+uint64(n)
	case n > len(e.held)/2:
		kept := copy(e.held, e.held[n:])
		clear(e.held[kept:]) // the moved entries' old places would keep their alerts alive
		e.held, e.heldHead, e.heldBase = e.held[:kept], 0, e.heldBase+uint64(n)
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

// held is a decision waiting to be emitted.
type held struct {
	d   quell.Decision
	inc *incident
}
