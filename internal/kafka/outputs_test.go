package kafka

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

// An incident's change carries all its alerts: one of as many as the
// default correlate.max_alerts allows, of 2 KiB each, is written and read
// back as the sink stage reads it. One over maxIncidentRecord is left out, a
// stand-in for it goes to the dead-letter topic, and what came with it is
// written: retrying it forever stopped the partition. On an incidents topic
// left at the broker's 1 MiB (its setting refused), the broker's refusal
// leaves out the large change alone.
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
	n := correlate.DefaultConfig().MaxAlerts
	big, huge, small := incident("big", n, 2000), incident("huge", n, (17<<20)/n), incident("small", 1, 100)
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
			var stand struct {
				Incident string
				Seq      uint64
				Alerts   int
			}
			left := tc.changes[0]
			if m := parked(t, brokers, names, names.Incidents, &stand); string(m.Key) != left.ID || stand.Incident != left.ID || stand.Seq != 1 || stand.Alerts != len(left.Alerts) {
				t.Errorf("dead letter %s %s; want a stand-in for change 1 of incident %s and its %d alerts", m.Key, m.Value, left.ID, len(left.Alerts))
			}
			for topic, want := range map[string]int64{names.Incidents: 1, names.Decisions: 1, names.DeadLetter: 1} {
				got, err := Measure(ctx, lagClient(brokers, []string{topic}), Consumption{Group: unique(t, "group"), Topic: topic})
				if err != nil || got.Lag() != want {
					t.Errorf("%s holds %d records (%v); want %d", topic, got.Lag(), err, want)
				}
			}
			got := consume[quell.IncidentChange](t, ctx, brokers, names, names.Incidents)
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

// A decision over the record limit because of its alert's raw payload (the
// alerts topic keeps that payload) goes without it rather than not at all;
// one too large even without it is left out, with a stand-in in the
// dead-letter topic, and the rest goes.
func TestOutputsDeliverADecisionTooLargeWithoutItsRawPayload(t *testing.T) {
	brokers, log := broker(t)
	names := NamesFor(unique(t, "out"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, brokers, Topics(names, 1, 1), log); err != nil {
		t.Fatal(err)
	}
	o, err := NewOutputs(brokers, names, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(ctx)
	bulky, huge, small := testAlert("web", 1), testAlert("web", 2), testAlert("web", 3)
	bulky.Raw = []byte(`{"description":"` + strings.Repeat("x", 1_200_000) + `"}`)
	huge.Labels["note"] = strings.Repeat("y", 1_200_000)
	b := sinks.Batch{Decisions: []quell.Decision{
		{Alert: bulky, Incident: "a", Action: quell.ActionCreated},
		{Alert: huge, Incident: "a", Action: quell.ActionJoined},
		{Alert: small, Incident: "a", Action: quell.ActionJoined},
	}}
	if err := o.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	got := consume[quell.Decision](t, ctx, brokers, names, names.Decisions)
	read := map[quell.Fingerprint]quell.Decision{}
	for len(read) < 2 {
		select {
		case d := <-got:
			read[d.Alert.Fingerprint] = d
		case <-time.After(30 * time.Second):
			t.Fatalf("read %d decisions within 30 s; want the bulky one and the small one", len(read))
		}
	}
	if d, ok := read[bulky.Fingerprint]; !ok || len(d.Alert.Raw) != 0 || d.Alert.Labels["seq"] != "1" {
		t.Errorf("bulky decision read as %v (raw %d bytes); want it with its labels and without its raw payload", ok, len(d.Alert.Raw))
	}
	if d, ok := read[small.Fingerprint]; !ok || string(d.Alert.Raw) != string(small.Raw) {
		t.Errorf("small decision read as %v; want it with its raw payload", ok)
	}
	if _, ok := read[huge.Fingerprint]; ok {
		t.Errorf("a decision larger than a record without its raw payload was written")
	}
	var stand struct {
		Alert, Incident string
		Action          quell.Action
		Bytes           int
	}
	if m := parked(t, brokers, names, names.Decisions, &stand); stand.Alert != huge.Fingerprint.String() || stand.Incident != "a" || stand.Action != quell.ActionJoined || stand.Bytes < 1_200_000 {
		t.Errorf("dead letter %s; want a stand-in for the decision about %s", m.Value, huge.Fingerprint)
	}
}

// parked reads the first record of the dead-letter topic, checks that it
// names topic as where its record was left out of and why, and decodes its
// value into v.
func parked(t *testing.T, brokers []string, names Names, topic string, v any) kafkago.Message {
	t.Helper()
	m := readAll(t, brokers, names.DeadLetter, 1)[0]
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	if h[HeaderTopic] != topic || h[HeaderReason] == "" {
		t.Errorf("dead letter headers %v; want the topic %s and a reason", h, topic)
	}
	if err := json.Unmarshal(m.Value, v); err != nil {
		t.Errorf("dead letter %s: %v", m.Value, err)
	}
	return m
}

// consume reads topic as the sink stage does, until the test ends, and
// hands over each record.
func consume[T any](t *testing.T, ctx context.Context, brokers []string, names Names, topic string) <-chan T {
	t.Helper()
	_, log := broker(t)
	c, err := NewConsumer[T](ConsumerConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "sink"), DeadLetterTopic: names.DeadLetter, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	got := make(chan T, 16)
	go c.Subscribe(rctx, func(ctx context.Context, vs []T) error {
		for _, v := range vs {
			select {
			case got <- v:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return got
}
