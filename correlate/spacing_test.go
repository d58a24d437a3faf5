package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSpacing(t *testing.T) {
	const window = 10 * time.Minute
	var s Spacing
	at := t0
	starts := func(n int, gap time.Duration) {
		for range n {
			s.start(at)
			s.start(at.Add(300 * time.Millisecond)) // the same batch: no gap
			at = at.Add(gap)
		}
	}
	starts(spacedAfter, 20*time.Second) // one gap short
	if sc := s.scale(at, window); sc != 0 {
		t.Fatalf("after %d gaps the scale is %s, want none yet", spacedAfter-1, sc)
	}
	starts(1, 20*time.Second)
	// The gaps are 19.7 s: from each batch's last start to the next.
	if sc := s.scale(at, window); sc < spacedGaps*19*time.Second || sc > spacedGaps*20*time.Second {
		t.Fatalf("starts 19.7s apart give a scale of %s, want %d times that", sc, spacedGaps)
	}
	if !s.repeat(at) || s.repeat(at.Add(500*time.Millisecond)) {
		t.Fatal("a repeat changed nothing, or a second one in the same second did")
	}
	if sc := s.scale(at, window); sc != 0 {
		t.Fatalf("after a repeat the scale is %s, want none", sc)
	}
	starts(spacedAfter, 20*time.Second) // 320s: within the window of the repeat
	if sc := s.scale(at, window); sc != 0 {
		t.Fatalf("%s after a repeat the scale is %s, want none", at.Sub(s.Repeated), sc)
	}
	if sc := s.scale(s.Repeated.Add(window+time.Second), window); sc == 0 {
		t.Fatal("no scale once the window has passed since the repeat")
	}
}

// A fault whose alerts a detector reports once each, about 20 s apart,
// stays one incident across a 70 s silence; where the scope's alerts fire
// again, the same silence ends it, as time_scale (30 s) says.
func TestSparseFaultStaysOneIncident(t *testing.T) {
	for _, repeats := range []bool{false, true} {
		t.Run(fmt.Sprintf("repeats=%v", repeats), func(t *testing.T) {
			r := newRun(t, DefaultConfig(), nil)
			var occs []occ
			for i := range 20 {
				occs = append(occs, occ{at: time.Duration(i) * 20 * time.Second, labels: fmt.Sprintf("alertname=Anomaly,service=cart,metric=m%d", i)})
				if repeats && i > 0 {
					occs = append(occs, occ{at: time.Duration(i)*20*time.Second + time.Second, labels: fmt.Sprintf("alertname=Anomaly,service=cart,metric=m%d", i-1)})
				}
			}
			r.feed(0, occs...)
			late := r.feed(time.Minute, occ{at: 19*20*time.Second + 70*time.Second, labels: "alertname=Anomaly,service=cart,metric=m99"})
			first := r.decisions[0].Incident
			for _, d := range r.decisions[:len(r.decisions)-len(late)] {
				if d.Incident != first {
					t.Fatalf("the alerts 20s apart went to %s and %s, want one incident", first, d.Incident)
				}
			}
			if len(late) != 1 {
				t.Fatalf("%d decisions for the late alert", len(late))
			}
			joined, spaced := late[0].Incident == first, strings.Contains(late[0].Reason, "alerts here report once, about 20s apart")
			if joined == repeats || spaced == repeats {
				t.Errorf("70s after the last alert: in the first incident %v, want %v; reason: %s", joined, !repeats, late[0].Reason)
			}
		})
	}
}
