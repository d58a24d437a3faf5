package pipeline

import (
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// Redelivered copies are dropped once the sinks hold the originals, and
// not before: a batch the sinks did not take is fresh when it comes again.
func TestDedupeDropsWhatWasDelivered(t *testing.T) {
	d := NewDedupe(100)
	at := time.Unix(1_700_000_000, 0)
	dec := func(fp quell.Fingerprint) quell.Decision {
		return quell.Decision{Alert: quell.Alert{Fingerprint: fp}, Incident: "i1", Action: quell.ActionJoined, Reason: "r", At: at}
	}
	fresh, delivered := d.FreshDecisions([]quell.Decision{dec(1), dec(1), dec(2)})
	if len(fresh) != 2 {
		t.Fatalf("%d of a batch with one copy in it are fresh, want 2", len(fresh))
	}
	if again, _ := d.FreshDecisions([]quell.Decision{dec(1)}); len(again) != 1 {
		t.Fatal("a decision the sinks have not taken yet was dropped when it came again")
	}
	delivered()
	if again, _ := d.FreshDecisions([]quell.Decision{dec(1), dec(2), dec(3)}); len(again) != 1 || again[0].Alert.Fingerprint != 3 {
		t.Fatalf("after delivery %v are fresh, want only the new decision", again)
	}

	change := func(seq uint64) quell.IncidentChange {
		return quell.IncidentChange{Incident: quell.Incident{ID: "i1"}, Seq: seq}
	}
	cs, deliveredChanges := d.FreshChanges([]quell.IncidentChange{change(1), change(2), change(1)})
	if len(cs) != 2 {
		t.Fatalf("%d changes fresh, want 2 (the older copy dropped)", len(cs))
	}
	deliveredChanges()
	if again, _ := d.FreshChanges([]quell.IncidentChange{change(2), change(3)}); len(again) != 1 || again[0].Seq != 3 {
		t.Fatalf("after delivery %v are fresh, want only seq 3", again)
	}
}
