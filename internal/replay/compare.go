package replay

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/quellhq/quell"
)

// Diff is what moved between two decision logs of the same alerts under
// two configurations: incidents on each side, and the alerts whose incident
// changed, with the reason each side gave.
type Diff struct {
	IncidentsA, IncidentsB int
	Alerts                 int // alerts in incidents on both sides
	Moved                  []Move
}

// Move is one alert grouped differently: on side B (at least one of its
// firings) is not with the alerts it was with on side A.
type Move struct {
	Alert              quell.Alert
	IncidentA, ReasonA string
	IncidentB, ReasonB string
}

// firing names one firing occurrence the same way in both logs: the same
// alerts replayed decide each occurrence at the same event time.
type firing struct {
	fp quell.Fingerprint
	at int64
	n  int // among the alert's occurrences decided at that time
}

// Compare pairs each incident of a with the incident of b that took most of
// its alerts' firings, and each of b with the one of a that gave most; an
// alert moved when one of its firings is split from its incident's pair
// (split off, or merged into another incident's alerts).
func Compare(a, b []quell.Decision) Diff {
	fa, fb := firings(a), firings(b)
	ab, ba := map[string]map[string]int{}, map[string]map[string]int{} // firings in both, by incident
	for k, x := range fa {
		if y, ok := fb[k]; ok {
			count(ab, x.Incident, y.Incident)
			count(ba, y.Incident, x.Incident)
		}
	}
	pairAB, pairBA := pairs(ab, opened(fb)), pairs(ba, opened(fa))
	d := Diff{IncidentsA: incidents(fa), IncidentsB: incidents(fb)}
	keys := make([]firing, 0, len(fa))
	for k := range fa {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(p, q firing) int {
		return cmp.Or(cmp.Compare(p.at, q.at), cmp.Compare(p.fp, q.fp), cmp.Compare(p.n, q.n))
	})
	alerts, moved := map[quell.Fingerprint]bool{}, map[quell.Fingerprint]bool{}
	for _, k := range keys {
		x, y := fa[k], fb[k]
		if y.Incident == "" {
			continue
		}
		alerts[k.fp] = true
		if (pairAB[x.Incident] != y.Incident || pairBA[y.Incident] != x.Incident) && !moved[k.fp] {
			moved[k.fp] = true
			d.Moved = append(d.Moved, Move{Alert: x.Alert, IncidentA: x.Incident, ReasonA: x.Reason, IncidentB: y.Incident, ReasonB: y.Reason})
		}
	}
	d.Alerts = len(alerts)
	return d
}

func count(m map[string]map[string]int, from, to string) {
	if m[from] == nil {
		m[from] = map[string]int{}
	}
	m[from][to]++
}

// pairs maps each incident to the one on the other side it shares most
// with; of equals, the one that opened first (then by id).
func pairs(overlap map[string]map[string]int, opened map[string]int64) map[string]string {
	pair := map[string]string{}
	for from, m := range overlap {
		best := ""
		for to, n := range m {
			if best == "" || n > m[best] || n == m[best] && cmp.Or(cmp.Compare(opened[to], opened[best]), cmp.Compare(to, best)) < 0 {
				best = to
			}
		}
		pair[from] = best
	}
	return pair
}

// opened is when each incident took its first firing.
func opened(m map[firing]quell.Decision) map[string]int64 {
	first := map[string]int64{}
	for k, d := range m {
		if t, ok := first[d.Incident]; !ok || k.at < t {
			first[d.Incident] = k.at
		}
	}
	return first
}

// firings maps every firing occurrence that a decision put in an incident
// to that decision.
func firings(ds []quell.Decision) map[firing]quell.Decision {
	m := map[firing]quell.Decision{}
	for _, d := range ds {
		if d.Alert.Status != quell.Firing || d.Incident == "" {
			continue
		}
		k := firing{fp: d.Alert.Fingerprint, at: d.At.UnixNano()}
		for _, seen := m[k]; seen; _, seen = m[k] {
			k.n++
		}
		m[k] = d
	}
	return m
}

func incidents(m map[firing]quell.Decision) int {
	seen := map[string]bool{}
	for _, d := range m {
		seen[d.Incident] = true
	}
	return len(seen)
}

// Print writes the diff for people: the counts, then each moved alert with
// its incident and reason on both sides.
func (d Diff) Print(w io.Writer, nameA, nameB string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d incidents\n%s: %d incidents\n%d of %d alerts changed incident\n", nameA, d.IncidentsA, nameB, d.IncidentsB, len(d.Moved), d.Alerts)
	for _, m := range d.Moved {
		fmt.Fprintf(&b, "\n%s %s\n  %s: %s  %s\n  %s: %s  %s\n", m.Alert.EventTime().UTC().Format("2006-01-02T15:04:05Z"), labels(m.Alert.Labels),
			nameA, m.IncidentA, m.ReasonA, nameB, m.IncidentB, m.ReasonB)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func labels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}
