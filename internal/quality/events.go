// Package quality measures how well quell groups alerts into incidents: on
// fault-labelled alerts from a real system (MicroSS, embedded) and on
// synthetic storms with known truth from a seeded generator. It turns both
// into the same alert stream, replays it through the correlator with the
// default config, and scores the decisions against the truth the way the
// data set's own scorer (faultalerts.py) does.
package quality

import (
	"cmp"
	"slices"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
)

// Event is one firing alert occurrence caused by a known fault.
type Event struct {
	At      int64 // epoch milliseconds
	Fault   string
	ID      string // unique; carried as annotations.event_id
	Labels  map[string]string
	Summary string
}

// Set is a labelled alert stream and the system it came from.
type Set struct {
	Data, Family string // where it came from: "MicroSS", or "synthetic" and the topology family
	Overlay      int    // faults running at once
	Events       []Event
	Topology     *correlate.Topology // nil: quell learns the graph from the alerts
}

// resolveAfter: a resolve is sent once an alert has been quiet this long
// (faultalerts.py's RESOLVE_AFTER_MS).
const resolveAfter = 5 * time.Minute

// sortEvents orders events by time, then id, as faultalerts.py does.
func sortEvents(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Alerts turns events (sorted) into the stream a sender would post, as
// faultalerts.py convert writes it: every occurrence firing, with its
// summary and event id, and a resolve once an alert was quiet for five
// minutes. Alerts of one moment keep the converter's order: firing ones as
// they came, then resolves. Source and labels are as given; fingerprints
// are left to the caller.
func Alerts(evs []Event, source string) []quell.Alert {
	type key string
	keyOf := func(l map[string]string) key { return key(canonical(l)) }
	type slot struct{ firing, resolved []quell.Alert }
	msgs := map[int64]*slot{}
	at := func(ts int64) *slot {
		s := msgs[ts]
		if s == nil {
			s = &slot{}
			msgs[ts] = s
		}
		return s
	}
	var order []key
	occ := map[key][]int{}
	for i, e := range evs {
		s := at(e.At)
		s.firing = append(s.firing, quell.Alert{Source: source, Status: quell.Firing, Labels: e.Labels,
			Annotations: map[string]string{"summary": e.Summary, "event_id": e.ID},
			StartsAt:    time.UnixMilli(e.At).UTC(), Severity: severity(e.Labels)})
		k := keyOf(e.Labels)
		if _, ok := occ[k]; !ok {
			order = append(order, k)
		}
		occ[k] = append(occ[k], i)
	}
	for _, k := range order {
		is := occ[k]
		for n, i := range is {
			e := evs[i]
			if n+1 < len(is) && evs[is[n+1]].At-e.At <= resolveAfter.Milliseconds() {
				continue
			}
			end := e.At + resolveAfter.Milliseconds()
			s := at(end)
			s.resolved = append(s.resolved, quell.Alert{Source: source, Status: quell.Resolved, Labels: e.Labels,
				Annotations: map[string]string{"summary": e.Summary},
				StartsAt:    time.UnixMilli(e.At).UTC(), EndsAt: time.UnixMilli(end).UTC(), Severity: severity(e.Labels)})
		}
	}
	times := make([]int64, 0, len(msgs))
	for ts := range msgs {
		times = append(times, ts)
	}
	slices.Sort(times)
	var out []quell.Alert
	for _, ts := range times {
		out = append(out, msgs[ts].firing...)
		out = append(out, msgs[ts].resolved...)
	}
	return out
}

func severity(l map[string]string) quell.Severity {
	switch s := quell.Severity(l["severity"]); s {
	case quell.Critical, quell.Warning, quell.Info:
		return s
	}
	return quell.Warning
}

// canonical is a label set as bytes, in key order: equal sets, equal bytes.
func canonical(l map[string]string) []byte {
	ks := make([]string, 0, len(l))
	for k := range l {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b []byte
	for _, k := range ks {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, l[k]...)
		b = append(b, 0)
	}
	return b
}
