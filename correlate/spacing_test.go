package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

func TestSpacing(t *testing.T) {
	const window = 10 * time.Minute
	const name, other = 1, 2
	var s Spacing
	at := t0
	starts := func(n int, gap time.Duration) {
		for range n {
			s.start(at, name)
			s.start(at.Add(300*time.Millisecond), name) // the same batch: no gap
			at = at.Add(gap)
		}
	}
	starts(spacedAfter-1, 20*time.Second) // one start short
	if sc := s.scale(at, window, name); sc != 0 {
		t.Fatalf("after %d starts the scale is %s, want none yet", spacedAfter-1, sc)
	}
	starts(1, 20*time.Second)
	// The gaps are 19.7 s: from each batch's last start to the next.
	if sc := s.scale(at, window, name); sc < spacedGaps*19*time.Second || sc > spacedGaps*20*time.Second {
		t.Fatalf("starts 19.7s apart give a scale of %s, want %d times that", sc, spacedGaps)
	}
	if sc := s.scale(at, window, other); sc != 0 {
		t.Fatalf("an alertname never seen has a scale of %s, want none", sc)
	}
	// Another alertname firing again says nothing of this one's.
	if !s.repeat(at, other) || s.scale(at, window, name) == 0 {
		t.Fatal("a repeat of another alertname changed nothing, or took this one's scale")
	}
	if !s.repeat(at, name) || s.repeat(at.Add(500*time.Millisecond), name) {
		t.Fatal("a repeat changed nothing, or a second one in the same second did")
	}
	if sc := s.scale(at, window, name); sc != 0 {
		t.Fatalf("after a repeat the scale is %s, want none", sc)
	}
	repeated := at.Truncate(time.Second)
	starts(spacedAfter+1, 20*time.Second) // 340s, within the window of the repeat; the first start is its batch
	if sc := s.scale(at, window, name); sc != 0 {
		t.Fatalf("%s after a repeat the scale is %s, want none", at.Sub(repeated), sc)
	}
	if sc := s.scale(repeated.Add(window+time.Second), window, name); sc == 0 {
		t.Fatal("no scale once the window has passed since the repeat")
	}
	// Past spacedNames alertnames, the one seen least lately is forgotten.
	for i := range spacedNames {
		s.start(at.Add(time.Duration(i+1)*time.Second), uint64(100+i))
	}
	if sc := s.scale(repeated.Add(window+time.Second), window, name); sc != 0 {
		t.Fatalf("after %d other alertnames the scale is %s, want none: forgotten", spacedNames, sc)
	}
}

// A fault whose alerts a detector reports once each, about 20 s apart,
// stays one incident across a 70 s silence, also beside alerts of another
// alertname that fire again; where its own alerts fire again, the same
// silence ends it, as time_scale (30 s) says. The scope's rhythm is for
// what relates to the incident: an alert about an unrelated service as
// late opens its own.
func TestSparseFaultStaysOneIncident(t *testing.T) {
	for _, c := range []struct {
		repeats bool   // the alerts fire again
		others  string // alerts of this alertname fire again beside them
	}{{false, ""}, {true, ""}, {false, "TraceErrors"}} {
		repeats := c.repeats
		// late feeds the fault, then one alert 70 s after its last; it
		// returns the fault's incident and the late alert's decision.
		late := func(t *testing.T, labels string) (string, quell.Decision) {
			r := newRun(t, DefaultConfig(), nil)
			var occs []occ
			for i := range 20 {
				occs = append(occs, occ{at: time.Duration(i) * 20 * time.Second, labels: fmt.Sprintf("alertname=Anomaly,service=cart,metric=m%d", i)})
				if repeats && i > 0 {
					occs = append(occs, occ{at: time.Duration(i)*20*time.Second + time.Second, labels: fmt.Sprintf("alertname=Anomaly,service=cart,metric=m%d", i-1)})
				}
				if c.others != "" { // about another service, every 20 s
					occs = append(occs, occ{at: time.Duration(i)*20*time.Second + 10*time.Second, labels: "alertname=" + c.others + ",service=search"})
				}
			}
			r.feed(0, occs...)
			ds := r.feed(time.Minute, occ{at: 19*20*time.Second + 70*time.Second, labels: labels})
			first := r.decisions[0].Incident
			for _, d := range r.decisions[:len(r.decisions)-len(ds)] {
				if d.Alert.Labels["alertname"] == "Anomaly" && d.Incident != first {
					t.Fatalf("the alerts 20s apart went to %s and %s, want one incident", first, d.Incident)
				}
			}
			if len(ds) != 1 {
				t.Fatalf("%d decisions for the late alert", len(ds))
			}
			return first, ds[0]
		}
		t.Run(fmt.Sprintf("repeats=%v,others=%s", repeats, c.others), func(t *testing.T) {
			first, d := late(t, "alertname=Anomaly,service=cart,metric=m99")
			joined, spaced := d.Incident == first, strings.Contains(d.Reason, "alerts here report once, about ")
			if joined == repeats || spaced == repeats {
				t.Errorf("70s after the last alert: in the first incident %v, want %v; reason: %s", joined, !repeats, d.Reason)
			}
			if first, d := late(t, "alertname=Anomaly,service=billing,metric=m1"); d.Incident == first {
				t.Errorf("an unrelated alert 70s after the fault's last joined its incident: %s", d.Reason)
			}
		})
	}
}
