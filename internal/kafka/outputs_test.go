package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// An incident change too large for any produce request is left out and
// what came with it is written: retrying it forever stopped the partition.
func TestOutputsLeaveOutWhatCannotBeWritten(t *testing.T) {
	brokers, log := broker(t)
	names := NamesFor(unique(t, "out"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, brokers, Topics(names, 1, 1), log); err != nil {
		t.Fatal(err)
	}
	o, err := NewOutputs(brokers, names, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(ctx)
	huge := quell.Incident{ID: "huge", Status: quell.IncidentOpen}
	for i := range 3000 {
		huge.Alerts = append(huge.Alerts, quell.IncidentAlert{Fingerprint: quell.Fingerprint(i + 1), Status: quell.Firing,
			Labels: map[string]string{"alertname": "PodNotReady", "pod": fmt.Sprintf("web-%d", i), "note": strings.Repeat("x", 300)}})
	}
	small := quell.Incident{ID: "small", Status: quell.IncidentOpen, Alerts: huge.Alerts[:1]}
	b := sinks.Batch{
		Decisions: []quell.Decision{{Alert: testAlert("web", 1), Incident: "small", Action: quell.ActionCreated}},
		Changes:   []quell.IncidentChange{{Kind: quell.IncidentUpdated, Incident: huge, Seq: 2}, {Kind: quell.IncidentCreated, Incident: small, Seq: 1}},
	}
	done := make(chan error, 1)
	go func() { done <- o.Write(ctx, b) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Write still retrying after 30 s")
	}
	for topic, want := range map[string]int64{names.Incidents: 1, names.Decisions: 1} {
		got, err := Measure(ctx, lagClient(brokers, []string{topic}), Consumption{Group: unique(t, "group"), Topic: topic})
		if err != nil || got.Lag() != want {
			t.Errorf("%s holds %d records (%v); want %d", topic, got.Lag(), err, want)
		}
	}
}
