package correlate

import (
	"cmp"
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// Alerts that arrive together (one webhook, one evaluation of the rules)
// come in an order nobody chose. One early in such a batch sees an older
// incident as it was before the batch and may open an incident of its
// own, while the same alert later in the batch would have seen the
// incident's alerts of this instant and joined it. So once the engine's
// clock moves on, each incident opened in the instant that ended is weighed
// again with the alert that opened it, against the incidents open before
// that instant: if one of them takes the alert now, the young incident
// merges into it, as if its alert had come last. Grouping then does not
// depend on the order within a batch.

// settle weighs again the incidents opened at e.now (see above); the
// engine calls it before its clock moves past e.now.
func (e *Engine) settle() {
	// In id order: the order they opened in is not in the state a
	// restarted engine restores.
	opened := e.opened
	slices.SortFunc(opened, func(a, b *incident) int { return cmp.Compare(a.id, b.id) })
	for _, y := range opened {
		if y.status != quell.IncidentOpen || y.mergedInto != nil || !e.young(y, e.now) || len(y.order) == 0 {
			continue
		}
		in := e.infos[y.order[0]]
		if in == nil {
			continue
		}
		e.rate(in) // rarity as it is now, as a restarted engine knows it
		if x := e.olderTaker(y, in); x != nil {
			e.reasonBuf = append(e.reasonBuf[:0], "merged into incident "...)
			e.reasonBuf = append(e.reasonBuf, x.inc.id...)
			e.reasonBuf = append(e.reasonBuf, ": the alert that opened "...)
			e.reasonBuf = append(e.reasonBuf, y.id...)
			e.reasonBuf = append(e.reasonBuf, ", weighed again with the alerts that came with it, "...)
			e.reasonBuf = e.appendReason(e.reasonBuf, x)
			e.merge(x.inc, y, e.now, string(e.reasonBuf))
		}
	}
	e.opened = opened[:0]
}

// olderTaker returns the evidence of the incident created before y that
// takes y's first alert now with the highest score, or nil.
func (e *Engine) olderTaker(y *incident, in *alertInfo) *evidence {
	var best *evidence
	evs := e.weighAll(y.scope, in, e.now, nil)
	for i := range evs {
		ev := &evs[i]
		if ev.inc != y && ev.inc.created.Before(y.created) && ev.score() >= e.cfg.JoinScore && (best == nil || better(ev, best)) {
			best = ev
		}
	}
	return best
}

// noteOpened remembers an incident opened at e.now for settle.
func (e *Engine) noteOpened(inc *incident, at time.Time) {
	if at.Equal(e.now) {
		e.opened = append(e.opened, inc)
	}
}
