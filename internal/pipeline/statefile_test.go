package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
)

func sampleState() saved {
	at := time.Unix(1_700_000_000, 0).UTC()
	s := saved{Snapshot: correlate.Snapshot{Now: at, Input: 42}, Marks: map[string]int64{"decisions": 7}}
	for i := range 3 {
		inc := correlate.IncidentState{Incident: quell.Incident{ID: fmt.Sprintf("inc-%d", i), Status: quell.IncidentOpen, CreatedAt: at}, Seq: uint64(i)}
		for j := range i + 1 {
			fp := quell.Fingerprint(10*i + j + 1)
			inc.Alerts = append(inc.Alerts, quell.IncidentAlert{Fingerprint: fp, Status: quell.Firing, Labels: map[string]string{"alertname": "A", "n": fmt.Sprint(j)}, StartsAt: at, Count: 1})
			s.Alerts = append(s.Alerts, &dedupe.State{Fingerprint: fp, Status: quell.Firing, FirstSeen: at, LastSeen: at})
		}
		s.Incidents = append(s.Incidents, inc)
	}
	s.Held = []correlate.HeldDecision{{Incident: "inc-2", Decision: quell.Decision{At: at, Action: quell.ActionJoined, Incident: "inc-2", Reason: "a test",
		Alert: quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{"alertname": "A"}, Raw: []byte(`{"labels":{"alertname":"A"}}`)}}}}
	return s
}

// TestStateFileRoundTrip: what encodeState writes, decodeState reads back
// whole, and the header alone when only the position is wanted.
func TestStateFileRoundTrip(t *testing.T) {
	want := sampleState()
	var b bytes.Buffer
	if err := encodeState(&b, want); err != nil {
		t.Fatal(err)
	}
	// One record per line, none holding more than one alert.
	if lines := strings.Count(b.String(), "\n"); lines != 1+3+6+6+1+1 {
		t.Fatalf("%d records, want a header, 3 incidents, 6 members, 6 alerts, a held decision and an end:\n%s", lines, b.String())
	}
	got, err := decodeState(bytes.NewReader(b.Bytes()), true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
	head, err := decodeState(bytes.NewReader(b.Bytes()), false)
	if err != nil || head.Input != 42 || head.Marks["decisions"] != 7 || head.Incidents != nil || head.Held != nil {
		t.Fatalf("header alone: %+v, %v", head, err)
	}
}

// TestStateFileCutShort: a file that ends at a record's boundary is not
// taken for a smaller state.
func TestStateFileCutShort(t *testing.T) {
	var b bytes.Buffer
	if err := encodeState(&b, sampleState()); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(b.String(), "\n")
	cut := strings.Join(lines[:5], "")
	if _, err := decodeState(strings.NewReader(cut), true); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("a file cut after 5 records read with %v, want an error saying it was cut short", err)
	}
}

// TestStateFileOfEarlierVersions: a state file quell wrote as one JSON
// object before version 2 still restores.
func TestStateFileOfEarlierVersions(t *testing.T) {
	want := sampleState()
	old, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(bytes.NewReader(old), true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
}
