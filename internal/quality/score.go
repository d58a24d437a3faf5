package quality

import (
	"math"
	"strconv"
)

// Score is pairwise clustering quality over firing alert events (or, by
// episode, over alert episodes): two events are a true pair when one fault
// caused both, a predicted pair when they share an incident.
type Score struct {
	Precision   float64 `json:"precision"`
	Recall      float64 `json:"recall"`
	F1          float64 `json:"f1"`
	Incidents   int     `json:"incidents"`
	Faults      int     `json:"faults"`
	Events      int     `json:"events"`
	Compression float64 `json:"compression"`
	Missing     int     `json:"missing"`
	Ambiguous   int     `json:"ambiguous,omitempty"`
}

// Pairwise scores assign (event id -> incident) against truth (event id ->
// fault) as faultalerts.py scores(): an event without a decision counts as
// an incident of its own.
func Pairwise(assign, truth map[string]string) Score {
	type pt struct{ p, t string }
	cell, pc, tc := map[pt]int{}, map[string]int{}, map[string]int{}
	missing := 0
	for e, t := range truth {
		p, ok := assign[e]
		if !ok {
			p = "\x00missing " + e
			missing++
		}
		cell[pt{p, t}]++
		pc[p]++
		tc[t]++
	}
	sum := func(m map[string]int) (s int) {
		for _, n := range m {
			s += n * (n - 1) / 2
		}
		return s
	}
	tp := 0
	for _, n := range cell {
		tp += n * (n - 1) / 2
	}
	pp, tt := sum(pc), sum(tc)
	prec, rec := 1.0, 1.0
	if pp > 0 {
		prec = float64(tp) / float64(pp)
	}
	if tt > 0 {
		rec = float64(tp) / float64(tt)
	}
	f1 := 0.0
	if prec+rec > 0 {
		f1 = 2 * prec * rec / (prec + rec)
	}
	return Score{Precision: round4(prec), Recall: round4(rec), F1: round4(f1), Incidents: len(pc), Faults: len(tc),
		Events: len(truth), Compression: round4(1 - float64(len(pc))/float64(max(1, len(truth)))), Missing: missing}
}

// Episodes scores per alert episode (an alert's occurrences with no quiet
// gap over five minutes), as faultalerts.py --episodes: an episode raised
// by more than one fault is left out, and an episode's incident is the one
// most of its occurrences went to.
func Episodes(evs []Event, assign map[string]string) Score {
	last, cur := map[string]int64{}, map[string]int{}
	members := map[int][]Event{}
	n := 0
	for _, e := range evs { // sorted
		k := labelKey(e.Labels)
		if t, ok := last[k]; !ok || e.At-t > resolveAfter.Milliseconds() {
			n++
			cur[k] = n
		}
		last[k] = e.At
		members[cur[k]] = append(members[cur[k]], e)
	}
	truth, ep := map[string]string{}, map[string]string{}
	ambiguous := 0
	for i := 1; i <= n; i++ {
		ms := members[i]
		fault := ms[0].Fault
		mixed := false
		for _, e := range ms {
			mixed = mixed || e.Fault != fault
		}
		if mixed {
			ambiguous++
			continue
		}
		id := strconv.Itoa(i)
		truth[id] = fault
		count, best := map[string]int{}, ""
		for _, e := range ms { // the first incident to reach the top count wins ties, as max() over an insertion-ordered dict does
			if inc, ok := assign[e.ID]; ok {
				count[inc]++
			}
		}
		for _, e := range ms {
			if inc, ok := assign[e.ID]; ok && (best == "" || count[inc] > count[best]) {
				best = inc
			}
		}
		if best != "" {
			ep[id] = best
		}
	}
	s := Pairwise(ep, truth)
	s.Ambiguous = ambiguous
	return s
}

// Truth maps every event to its fault.
func Truth(evs []Event) map[string]string {
	m := make(map[string]string, len(evs))
	for _, e := range evs {
		m[e.ID] = e.Fault
	}
	return m
}

func labelKey(l map[string]string) string {
	return string(canonical(l))
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
