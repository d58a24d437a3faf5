package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
)

func TestRoundTripKeepsAlertsKeysAndOrder(t *testing.T) {
	brokers, log := broker(t)
	topic, dead := topics(t, brokers, log, 3)
	pub := publisher(t, brokers, log, topic)

	scopes := []string{"checkout", "payments", "search", "auth"}
	var sent []quell.Alert
	for batch := 0; batch < 3; batch++ {
		var alerts []quell.Alert
		for _, s := range scopes {
			for i := 0; i < 5; i++ {
				alerts = append(alerts, testAlert(s, batch*5+i))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := pub.Publish(ctx, alerts)
		cancel()
		if err != nil {
			t.Fatalf("publishing batch %d: %v", batch, err)
		}
		sent = append(sent, alerts...)
	}

	got := receivedAsSent(t, brokers, log, topic, dead, sent)
	next := map[string]int{} // per scope: the seq the next alert must have
	for _, a := range got {
		scope, seq := a.Labels["service"], a.Labels["seq"]
		if seq != strconv.Itoa(next[scope]) {
			t.Errorf("scope %s: got seq %s, want %d: one scope's alerts must arrive in order", scope, seq, next[scope])
		}
		next[scope]++
	}

	// The records themselves carry the scope as key, and one scope stays in one partition.
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "raw"), MaxWait: time.Second})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	partition := map[string]int{}
	for range sent {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, err := decode[quell.Alert](m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != a.Labels["service"] {
			t.Errorf("record key %q, want the scope %q", m.Key, a.Labels["service"])
		}
		if p, ok := partition[string(m.Key)]; ok && p != m.Partition {
			t.Errorf("scope %s in partitions %d and %d, want one", m.Key, p, m.Partition)
		}
		partition[string(m.Key)] = m.Partition
	}
}

func TestOffsetsAreCommittedOnlyAfterTheHandlerSucceeds(t *testing.T) {
	brokers, log := broker(t)
	topic, dead := topics(t, brokers, log, 1)
	pub := publisher(t, brokers, log, topic)
	publish := func(alerts ...quell.Alert) {
		t.Helper()
		if err := pub.Publish(context.Background(), alerts); err != nil {
			t.Fatal(err)
		}
	}
	var sent []quell.Alert
	for i := 0; i < 5; i++ {
		sent = append(sent, testAlert("checkout", i))
	}
	publish(sent...)

	cfg := ConsumerConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "group"), DeadLetterTopic: dead, Logger: log}
	newSub := func() *AlertSubscriber {
		s, err := NewAlertSubscriber(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// First member: the handler fails, so Subscribe stops with its error and
	// commits nothing.
	boom := errors.New("sink unavailable")
	failing := subscribe(t, newSub(), func([]quell.Alert) error { return boom })
	failed := failing.collect(t, 1)
	select {
	case <-failing.done:
		if !errors.Is(failing.err, boom) {
			t.Fatalf("Subscribe returned %v, want the handler's error", failing.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Subscribe did not return after its handler failed")
	}

	// Second member of the same group: it sees the failed batch again, from
	// the first record on, and this time handles everything.
	again := subscribe(t, newSub(), nil)
	got := again.collect(t, len(sent))
	if got[0].Fingerprint != failed[0].Fingerprint || got[0].Fingerprint != sent[0].Fingerprint {
		t.Errorf("redelivery starts at %v, want the failed batch's first alert %v", got[0].Fingerprint, failed[0].Fingerprint)
	}
	if err := again.stop(t); err != nil {
		t.Fatalf("Subscribe returned %v on shutdown, want nil", err)
	}

	// Third member: the handled batch was committed, so only what is
	// published next arrives.
	marker := testAlert("marker", 99)
	publish(marker)
	third := subscribe(t, newSub(), nil)
	if got := third.collect(t, 1); got[0].Fingerprint != marker.Fingerprint {
		t.Errorf("after a successful batch the group delivered %v again, want only the new alert %v", got[0].Fingerprint, marker.Fingerprint)
	}
}

func TestPoisonGoesToTheDeadLetterTopicAndTheStreamGoesOn(t *testing.T) {
	brokers, log := broker(t)
	topic, dead := topics(t, brokers, log, 1)
	good := func(i int) kafkago.Message {
		a := testAlert("checkout", i)
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return kafkago.Message{Key: []byte("checkout"), Value: b}
	}
	poison := []kafkago.Message{
		{Key: []byte("checkout"), Value: []byte(`{"source": "alertmanager", "labels": {`), Headers: []kafkago.Header{{Key: "trace", Value: []byte("abc")}}},
		{Key: []byte("checkout"), Value: []byte(`{"source": "alertmanager", "status": "firing"}`)},
	}
	w := rawWriter(t, brokers, topic)
	if err := w.WriteMessages(context.Background(), good(0), poison[0], poison[1], good(1), good(2)); err != nil {
		t.Fatal(err)
	}

	cfg := ConsumerConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "group"), DeadLetterTopic: dead, Logger: log}
	s, err := NewAlertSubscriber(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := subscribe(t, s, nil)
	got := sub.collect(t, 3)
	for i, a := range got {
		if a.Labels["seq"] != strconv.Itoa(i) {
			t.Errorf("alert %d has seq %s, want %d: the good records must all arrive, in order", i, a.Labels["seq"], i)
		}
	}
	if err := sub.stop(t); err != nil {
		t.Fatal(err)
	}

	parked := readAll(t, brokers, dead, 2)
	for i, m := range parked {
		h := headers(m)
		if string(m.Value) != string(poison[i].Value) || string(m.Key) != "checkout" {
			t.Errorf("dead letter %d: key %q value %q, want the original record", i, m.Key, m.Value)
		}
		if h[HeaderTopic] != topic || h[HeaderPartition] != "0" || h[HeaderOffset] != strconv.Itoa(i+1) || h[HeaderGroup] != cfg.GroupID || h[HeaderAt] == "" {
			t.Errorf("dead letter %d: origin headers %v, want %s/0@%d, group %s", i, h, topic, i+1, cfg.GroupID)
		}
	}
	for i, want := range []string{"not a JSON quell.Alert", "invalid quell.Alert: alert has no labels"} {
		if reason := headers(parked[i])[HeaderReason]; !strings.Contains(reason, want) {
			t.Errorf("dead letter %d: reason %q, want it to say %q", i, reason, want)
		}
	}
	if headers(parked[0])["trace"] != "abc" {
		t.Errorf("dead letter 0 lost the original headers: %v", headers(parked[0]))
	}

	// The poison's offsets were committed with the batch: a new member of the
	// group sees only what comes next, and nothing is parked twice.
	if err := w.WriteMessages(context.Background(), good(3)); err != nil {
		t.Fatal(err)
	}
	s2, err := NewAlertSubscriber(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := subscribe(t, s2, nil).collect(t, 1); got[0].Labels["seq"] != "3" {
		t.Errorf("after the batch the group delivered seq %s, want only the new alert (seq 3)", got[0].Labels["seq"])
	}
}

func headers(m kafkago.Message) map[string]string {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}
