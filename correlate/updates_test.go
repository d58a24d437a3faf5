package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// A storm joining one announced incident sends an update of it every
// updateGap per updateAlerts alerts the previous one carried, no sooner and
// no later, each with the whole incident; none of what joined is lost, and
// an update that waits at a checkpoint waits in the restored engine too.
func TestBusyIncidentUpdatesSpacedByItsSize(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	r.feed(10*time.Second, occ{0, "alertname=A0,service=web", ""}) // announced
	start := len(r.changes)
	n := 1
	// 500 alerts over 5 s, a batch (and EmitUpdates) each.
	for at := 10 * time.Second; at < 15*time.Second; at += 10 * time.Millisecond {
		a := alert(occ{labels: fmt.Sprintf("alertname=A%d,service=web", n)})
		r.eng.Process(&a, t0.Add(at))
		r.eng.EmitUpdates()
		n++
	}
	updates := r.changes[start:]
	if len(updates) < 2 {
		t.Fatalf("%d updates for 5 s of joins; want some", len(updates))
	}
	for i := 1; i < len(updates); i++ {
		held := len(updates[i-1].Incident.Alerts)
		want := updateGap * time.Duration(1+held/updateAlerts)
		if gap := updates[i].At.Sub(updates[i-1].At); gap < want-10*time.Millisecond || gap > want+10*time.Millisecond {
			t.Errorf("updates %d and %d %s apart; the first held %d alerts, so want %s", i-1, i, gap, held, want)
		}
	}

	// What waits survives a restart, and goes out at the next call.
	if !r.eng.incidents[updates[0].Incident.ID].dirty {
		t.Fatal("the last joins' update does not wait; the test needs one that does")
	}
	restored := newRun(t, fastConfig(), nil)
	restored.eng.Restore(r.eng.Snapshot())
	restored.eng.Advance(t0.Add(15 * time.Second))
	restored.eng.EmitUpdates()
	if len(restored.changes) != 1 || len(restored.changes[0].Incident.Alerts) != n {
		t.Fatalf("restored engine emitted %d changes, want 1 with all %d alerts", len(restored.changes), n)
	}

	r.eng.Flush()
	last := r.changes[len(r.changes)-1]
	if last.Kind != quell.IncidentUpdated || len(last.Incident.Alerts) != n {
		t.Fatalf("after Flush the last change is %s with %d alerts; want an update with all %d", last.Kind, len(last.Incident.Alerts), n)
	}
}
