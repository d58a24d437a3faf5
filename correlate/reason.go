package correlate

import (
	"strconv"
	"time"
)

// appendReason tells the evidence, e.g. "score 0.81: 2 hops (a -> b -> c),
// 14s after the incident's last alert, co-fired 31 times before". Written
// with appends into a buffer the engine reuses, not fmt: two reasons go
// with nearly every new alert.
func (e *Engine) appendReason(b []byte, ev *evidence) []byte {
	b = append(b, "score "...)
	b = strconv.AppendFloat(b, ev.score(), 'f', 2, 64)
	b = append(b, ": "...)
	switch ev.by {
	case bySameAlert:
		b = append(b, "the same alert was part of it, "...)
	case byShare:
		b = append(b, "shares "...)
		b = append(b, ev.ref.label...)
		b = append(b, '=')
		b = append(b, ev.ref.value...)
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(e.rarity.df[ev.token]), 10)
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(e.rarity.total), 10)
		b = append(b, " alerts carry it), "...)
	case byGraph:
		if ev.hops == 0 {
			b = append(b, "on graph node "...)
			b = append(b, e.graph.name(ev.from)...)
		} else {
			b = strconv.AppendInt(b, int64(ev.hops), 10)
			if ev.hops == 1 {
				b = append(b, " hop ("...)
			} else {
				b = append(b, " hops ("...)
			}
			b = append(b, e.graph.path(e.graph.from(ev.from), ev.to)...)
			switch {
			case ev.hostOnly && ev.entity > 0:
				b = append(b, ": a shared host, in a busy scope, while the incident is new"...)
			case ev.hostOnly:
				b = append(b, ": a shared host only, in a busy scope"...)
			}
			b = append(b, ')')
		}
		b = append(b, ", "...)
	}
	switch {
	case ev.nameless:
		b = append(b, "names no entity"...)
	case ev.machine:
		b = append(b, "about another machine"...)
	case ev.stranger:
		b = append(b, "about another workload"...)
	}
	if ev.busy {
		b = append(b, " in a busy scope"...)
	}
	if ev.stranger {
		b = append(b, ", "...)
	}
	b = append(b, ev.since.Round(time.Second).String()...)
	if ev.resolved {
		b = append(b, " after the incident resolved"...)
	} else {
		b = append(b, " after the incident's last alert"...)
	}
	if ev.cadence > 0 {
		b = append(b, " (its alerts report every "...)
		b = append(b, ev.cadence.Round(time.Second).String()...)
		b = append(b, ')')
	}
	if ev.spaced > 0 {
		b = append(b, " (alerts here report once, about "...)
		b = append(b, (ev.spaced / spacedGaps).Round(time.Second).String()...)
		b = append(b, " apart)"...)
	}
	if ev.quiet != nil {
		b = append(b, ", nothing about "...)
		b = append(b, ev.quiet.value...)
		b = append(b, " in it for "...)
		b = append(b, ev.quietFor.Round(time.Second).String()...)
	}
	if ev.coN > 0 {
		b = append(b, ", co-fired "...)
		b = strconv.AppendUint(b, uint64(ev.coN), 10)
		b = append(b, " times before"...)
		if ev.coSince > 0 {
			b = append(b, " with an alert that joined it "...)
			b = append(b, ev.coSince.Round(time.Second).String()...)
			b = append(b, " ago"...)
		}
	}
	switch {
	case ev.taught > 0:
		b = append(b, ", a person grouped them before"...)
	case ev.taught < 0:
		b = append(b, ", a person set them apart before"...)
	}
	switch {
	case ev.alike > 0:
		b = append(b, ", summary "...)
		b = strconv.AppendFloat(b, 100*ev.alike, 'f', 0, 64)
		b = append(b, "% alike"...)
	case ev.name > 0:
		b = append(b, ", same alertname"...)
	}
	return b
}
