package kafka

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// An incident's change carries all its alerts: one of 1,000 alerts (the
// default correlate.max_alerts) of 2 KiB each is written and read back as
// the sink stage reads it. One over maxIncidentRecord is left out and what
// came with it is written: retrying it forever stopped the partition. On an
// incidents topic left at the broker's 1 MiB (its setting refused), the
// broker's refusal leaves out the large change alone.
func TestOutputsCarryLargeIncidentsAndLeaveOutWhatCannotBeWritten(t *testing.T) {
	brokers, log := broker(t)
	// Random notes: compression must not shrink a change under 1 MiB.
	rnd := rand.New(rand.NewPCG(1, 2))
	incident := func(id string, alerts, pad int) quell.Incident {
		inc := quell.Incident{ID: id, Status: quell.IncidentOpen}
		note := make([]byte, pad/2)
		for i := range alerts {
			for j := range note {
				note[j] = byte(rnd.Uint32())
			}
			inc.Alerts = append(inc.Alerts, quell.IncidentAlert{Fingerprint: quell.Fingerprint(i + 1), Status: quell.Firing,
				Labels: map[string]string{"alertname": "PodNotReady", "pod": fmt.Sprintf("web-%d", i), "note": hex.EncodeToString(note)}})
		}
		return inc
	}
	big, huge, small := incident("big", 1000, 2000), incident("huge", 1000, 17<<10), incident("small", 1, 100)
	for _, tc := range []struct {
		name    string
		setting bool
		changes []quell.Incident
		want    quell.Incident
	}{
		{"set", true, []quell.Incident{huge, big}, big},
		{"default", false, []quell.Incident{big, small}, small},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := NamesFor(unique(t, "out"))
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			specs := Topics(names, 1, 1)
			if !tc.setting {
				specs[1].Config = nil
			}
			if err := EnsureTopics(ctx, brokers, specs, log); err != nil {
				t.Fatal(err)
			}
			o, err := NewOutputs(brokers, names, log)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close(ctx)
			b := sinks.Batch{Decisions: []quell.Decision{{Alert: testAlert("web", 1), Incident: tc.want.ID, Action: quell.ActionCreated}}}
			for i, inc := range tc.changes {
				b.Changes = append(b.Changes, quell.IncidentChange{Kind: quell.IncidentUpdated, Incident: inc, Seq: uint64(i + 1)})
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
			c, err := NewConsumer[quell.IncidentChange](ConsumerConfig{Brokers: brokers, Topic: names.Incidents, GroupID: unique(t, "sink"),
				DeadLetterTopic: names.DeadLetter, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			rctx, stop := context.WithCancel(ctx)
			defer stop()
			got := make(chan quell.IncidentChange, 2)
			go c.Subscribe(rctx, func(_ context.Context, cs []quell.IncidentChange) error {
				for _, c := range cs {
					got <- c
				}
				return nil
			})
			select {
			case c := <-got:
				n := len(tc.want.Alerts)
				if c.Incident.ID != tc.want.ID || len(c.Incident.Alerts) != n || c.Incident.Alerts[n-1].Labels["note"] != tc.want.Alerts[n-1].Labels["note"] {
					t.Errorf("read incident %s with %d alerts; want %s with its %d", c.Incident.ID, len(c.Incident.Alerts), tc.want.ID, n)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the sink's consumer read nothing within 30 s")
			}
		})
	}
}
