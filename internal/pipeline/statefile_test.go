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

// BenchmarkEncodeState writes busyState: a busy quell's save, which runs
// every few seconds under load.
func BenchmarkEncodeState(b *testing.B) {
	s := busyState()
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		if err := encodeState(&out, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.Len())/1e6, "MB/state")
}

// BenchmarkDecodeState reads BenchmarkEncodeState's state back, as quell
// serve does when it starts.
func BenchmarkDecodeState(b *testing.B) {
	var in bytes.Buffer
	if err := encodeState(&in, busyState()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := decodeState(bytes.NewReader(in.Bytes()), true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(in.Len())/1e6, "MB/state")
}

// busyState is a state of 1,000 incidents of 20 alerts with 10 labels
// each, their 20,000 tracked alerts and 10,000 held decisions.
func busyState() saved {
	at := time.Unix(1_700_000_000, 0).UTC()
	var s saved
	for i := range 1000 {
		inc := correlate.IncidentState{Incident: quell.Incident{ID: fmt.Sprintf("inc-%d", i), Status: quell.IncidentOpen, CreatedAt: at}}
		for j := range 20 {
			fp := quell.Fingerprint(20*i + j + 1)
			labels := map[string]string{"alertname": "HighLatency", "service": fmt.Sprintf("svc%d", i)}
			for k := range 8 {
				labels[fmt.Sprintf("label%d", k)] = fmt.Sprintf("value-%d-%d", j, k)
			}
			m := quell.IncidentAlert{Fingerprint: fp, Status: quell.Firing, Labels: labels, Annotations: map[string]string{"summary": "p99 over 1s"},
				StartsAt: at, Count: 3, LastSeen: at, Reason: "score 0.81: shares service"}
			inc.Alerts = append(inc.Alerts, m)
			s.Alerts = append(s.Alerts, &dedupe.State{Fingerprint: fp, Status: quell.Firing, FirstSeen: at, LastSeen: at, Count: 3})
			if len(s.Held) < 10000 {
				s.Held = append(s.Held, correlate.HeldDecision{Incident: inc.ID, Decision: quell.Decision{At: at, Action: quell.ActionJoined, Incident: inc.ID,
					Reason: m.Reason, Alert: quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: labels, StartsAt: at,
						Raw: []byte(`{"labels":{"alertname":"HighLatency","service":"svc"},"annotations":{"summary":"p99 over 1s"},"startsAt":"2023-11-14T22:13:20Z"}`)}}})
			}
		}
		s.Incidents = append(s.Incidents, inc)
	}
	return s
}
