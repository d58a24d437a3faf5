package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/sinks"
)

// maxIncidentRecord bounds an incident change: 1,000 alerts (the default
// correlate.max_alerts) of 16 KiB each. The incidents topic allows it.
const maxIncidentRecord = 16 << 20

// Outputs is the correlator's sink in split mode: decisions to the
// decisions topic, incident changes to the incidents topic, and a stand-in
// for a record too large to write to the dead-letter topic.
type Outputs struct {
	decisions *Producer[quell.Decision]
	changes   *Producer[quell.IncidentChange]
	dead      *kafkago.Writer
	log       *slog.Logger
}

var _ sinks.Sink = (*Outputs)(nil)

// NewOutputs connects lazily; the topics must exist (EnsureTopics).
func NewOutputs(brokers []string, n Names, log *slog.Logger) (*Outputs, error) {
	d, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: n.Decisions, Logger: log}, DecisionKey)
	if err != nil {
		return nil, err
	}
	c, err := NewProducer(ProducerConfig{Brokers: brokers, Topic: n.Incidents, MaxRecord: maxIncidentRecord, Logger: log}, IncidentKey)
	if err != nil {
		return nil, err
	}
	dead := newDeadLetterWriter(brokers, n.DeadLetter, newTransport([]string{n.DeadLetter}))
	return &Outputs{decisions: d, changes: c, dead: dead, log: log}, nil
}

func (o *Outputs) Name() string { return "kafka" }

// Write returns once the broker acknowledged the whole batch. It retries
// until then or until ctx ends: the correlator's state already holds the
// batch, so giving up early would only force a rebuild from the last checkpoint.
// A retry may write records twice; they are identical copies (see
// pipeline.Dedupe for how the sink stage drops them).
func (o *Outputs) Write(ctx context.Context, b sinks.Batch) error {
	backoff := 100 * time.Millisecond
	for {
		errc := make(chan error, 1)
		go func() { errc <- o.changes.Publish(ctx, b.Changes) }()
		derr := o.decisions.Publish(ctx, b.Decisions)
		cerr := <-errc
		if derr == nil && cerr == nil {
			return nil
		}
		if derr == nil {
			b.Decisions = nil // acknowledged: only the changes go again
		}
		if cerr == nil {
			b.Changes = nil
		}
		// A record too large to write would stop the partition for good if
		// retried: a decision goes without its alert's raw payload if that
		// makes it fit; otherwise the record is left out, loudly, with a
		// stand-in in the dead-letter topic, and the rest goes again at once.
		var big *bus.TooLarge
		if errors.As(derr, &big) {
			b.Decisions = slices.Clone(b.Decisions)
			d := &b.Decisions[big.Index]
			if len(d.Alert.Raw) > 0 {
				// Better delivered without the payload as its source sent it
				// (the alerts topic keeps that) than not at all.
				o.log.Warn("a decision too large to publish goes without its alert's raw payload", "alert", d.Alert.Fingerprint, "incident", d.Incident,
					"bytes", big.Bytes, "limit", big.Limit, "raw_bytes", len(d.Alert.Raw))
				d.Alert.Raw = nil
				continue
			}
			o.log.Error("a decision too large to publish is left out; a stand-in goes to the dead-letter topic", "alert", d.Alert.Fingerprint,
				"incident", d.Incident, "bytes", big.Bytes, "limit", big.Limit, "deadletter", o.dead.Topic)
			if err := o.park(ctx, o.decisions.topic, DecisionKey(d), leftOutDecisionOf(d, big.Bytes), big); err != nil {
				return err
			}
			b.Decisions = slices.Delete(b.Decisions, big.Index, big.Index+1)
			continue
		}
		if errors.As(cerr, &big) {
			if err := o.leftOut(ctx, &b.Changes[big.Index], big.Bytes, big); err != nil {
				return err
			}
			b.Changes = slices.Delete(slices.Clone(b.Changes), big.Index, big.Index+1)
			continue
		}
		// The broker refuses a batch over the topic's max.message.bytes (an
		// incidents topic whose setting could not be raised, see setConfigs).
		if errors.Is(cerr, kafkago.MessageSizeTooLarge) {
			if b.Changes, cerr = o.alone(ctx, b.Changes); cerr != nil {
				return cerr
			}
			continue
		}
		o.log.Warn("publishing the correlator's output failed; retrying", "decisions_err", derr, "changes_err", cerr, "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return fmt.Errorf("publishing %d decisions and %d incident changes: %w", len(b.Decisions), len(b.Changes), err)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// alone writes each change on its own and returns those still to write; a
// change the broker refuses even alone is left out.
func (o *Outputs) alone(ctx context.Context, cs []quell.IncidentChange) ([]quell.IncidentChange, error) {
	var rest []quell.IncidentChange
	for i := range cs {
		switch err := o.changes.Publish(ctx, cs[i:i+1]); {
		case errors.Is(err, kafkago.MessageSizeTooLarge):
			if err := o.leftOut(ctx, &cs[i], 0, err); err != nil {
				return nil, err
			}
		case err != nil:
			rest = append(rest, cs[i])
		}
	}
	return rest, nil
}

// leftOut parks a stand-in for a change too large to publish (of n bytes,
// 0 when the broker refused it) in the dead-letter topic.
func (o *Outputs) leftOut(ctx context.Context, c *quell.IncidentChange, n int, why error) error {
	o.log.Error("an incident change too large to publish is left out: consumers of the incidents topic miss it; a stand-in goes to the dead-letter topic",
		"incident", c.Incident.ID, "seq", c.Seq, "alerts", len(c.Incident.Alerts), "deadletter", o.dead.Topic, "err", why)
	return o.park(ctx, o.changes.topic, IncidentKey(c), leftOutChange{Incident: c.Incident.ID, Seq: c.Seq, Kind: c.Kind,
		At: c.At, Alerts: len(c.Incident.Alerts), Bytes: n}, why)
}

// leftOutDecision stands in the dead-letter topic for a decision too large
// to publish: what it decided about which alert, without the alert's
// labels and annotations (what made it too large).
type leftOutDecision struct {
	Alert     quell.Fingerprint `json:"alert"`
	Alertname string            `json:"alertname"`
	Incident  string            `json:"incident"`
	Action    quell.Action      `json:"action"`
	Reason    string            `json:"reason"`
	At        time.Time         `json:"at"`
	Bytes     int               `json:"bytes"`
}

func leftOutDecisionOf(d *quell.Decision, n int) leftOutDecision {
	return leftOutDecision{Alert: d.Alert.Fingerprint, Alertname: d.Alert.Labels["alertname"], Incident: d.Incident,
		Action: d.Action, Reason: d.Reason, At: d.At, Bytes: n}
}

// leftOutChange stands in the dead-letter topic for an incident change too
// large to publish.
type leftOutChange struct {
	Incident string           `json:"incident"`
	Seq      uint64           `json:"seq"`
	Kind     quell.ChangeKind `json:"kind"`
	At       time.Time        `json:"at"`
	Alerts   int              `json:"alerts"`
	Bytes    int              `json:"bytes,omitempty"`
}

// park writes stand-in v for a record left out of topic to the dead-letter
// topic, with why in its headers, retrying until it is written or ctx ends.
func (o *Outputs) park(ctx context.Context, topic string, key []byte, v any, why error) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding the stand-in for a record left out of %s: %w", topic, err)
	}
	m := kafkago.Message{Key: key, Value: value, Headers: []kafkago.Header{
		{Key: HeaderReason, Value: []byte(why.Error())},
		{Key: HeaderTopic, Value: []byte(topic)},
		{Key: HeaderAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	}}
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		err := o.dead.WriteMessages(ctx, m)
		if err == nil {
			return nil
		}
		o.log.Warn("parking a record left out in the dead-letter topic failed; retrying", "topic", topic, "deadletter", o.dead.Topic, "err", firstWriteError(err))
		if err := sleep(ctx, backoff); err != nil {
			return fmt.Errorf("parking a record left out of %s in dead-letter topic %s: %w", topic, o.dead.Topic, err)
		}
	}
}

// Close waits for writes in flight.
func (o *Outputs) Close(context.Context) error {
	return errors.Join(o.decisions.Close(), o.changes.Close(), o.dead.Close())
}
