package quality

import "maps"

// Variant reshapes a real set into a system it was not recorded on: the
// same faults and truth, reported otherwise. Scored beside the set itself,
// variants show whether defaults chosen on the generated families and
// checked on the real set hold on systems shaped unlike either.
type Variant struct {
	Name  string
	Apply func(Set) Set
	// Detections: the variant is also scored on every generated system
	// whose alerts an anomaly detector reports (Family.Detections), as
	// MicroSS's are: there no report interval tells how long a silence is.
	Detections bool
}

// Variants are the reshapings bench/quality scores MicroSS under.
var Variants = []Variant{
	// Detectors that report half or a quarter as often: every gap between
	// two alerts, within a fault and between faults, twice or four times as
	// long.
	{"sparser-x2", func(s Set) Set { return stretched(s, 2) }, true},
	{"sparser-x4", func(s Set) Set { return stretched(s, 4) }, true},
	// No tracing: only metric and log alerts, none naming a callee.
	{"no-traces", func(s Set) Set {
		return filtered(s, func(e Event) bool { _, call := e.Labels["peer_service"]; return !call })
	}, false},
	// No topology file: quell learns what relates from the alerts alone.
	{"no-topology", func(s Set) Set { s.Topology = nil; return s }, false},
}

// stretched is s with every event's time k times as far from the first's.
func stretched(s Set, k int64) Set {
	if len(s.Events) == 0 {
		return s
	}
	t0 := s.Events[0].At
	return reshaped(s, func(e Event) (Event, bool) { e.At = t0 + k*(e.At-t0); return e, true })
}

// filtered is s with the events keep keeps.
func filtered(s Set, keep func(Event) bool) Set {
	return reshaped(s, func(e Event) (Event, bool) { return e, keep(e) })
}

// reshaped is a copy of s with each event as f gives it back (false:
// dropped), in order again.
func reshaped(s Set, f func(Event) (Event, bool)) Set {
	out := s
	out.Events = make([]Event, 0, len(s.Events))
	for _, e := range s.Events {
		e.Labels = maps.Clone(e.Labels)
		if e, ok := f(e); ok {
			out.Events = append(out.Events, e)
		}
	}
	sortEvents(out.Events)
	return out
}
