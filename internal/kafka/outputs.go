package kafka

import (
	"context"
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
// decisions topic, incident changes to the incidents topic.
type Outputs struct {
	decisions *Producer[quell.Decision]
	changes   *Producer[quell.IncidentChange]
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
	return &Outputs{decisions: d, changes: c, log: log}, nil
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
		// makes it fit; otherwise the record is left out, loudly, and the
		// rest goes again at once.
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
			o.log.Error("a decision too large to publish is left out", "alert", d.Alert.Fingerprint, "incident", d.Incident, "bytes", big.Bytes, "limit", big.Limit)
			b.Decisions = slices.Delete(b.Decisions, big.Index, big.Index+1)
			continue
		}
		if errors.As(cerr, &big) {
			o.leftOut(&b.Changes[big.Index], big)
			b.Changes = slices.Delete(slices.Clone(b.Changes), big.Index, big.Index+1)
			continue
		}
		// The broker refuses a batch over the topic's max.message.bytes (an
		// incidents topic whose setting could not be raised, see setConfigs).
		if errors.Is(cerr, kafkago.MessageSizeTooLarge) {
			b.Changes = o.alone(ctx, b.Changes)
			continue
		}
		o.log.Warn("publishing the correlator's output failed; retrying", "decisions_err", derr, "changes_err", cerr, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("publishing %d decisions and %d incident changes: %w", len(b.Decisions), len(b.Changes), ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// alone writes each change on its own and returns those still to write; a
// change the broker refuses even alone is left out.
func (o *Outputs) alone(ctx context.Context, cs []quell.IncidentChange) []quell.IncidentChange {
	var rest []quell.IncidentChange
	for i := range cs {
		switch err := o.changes.Publish(ctx, cs[i:i+1]); {
		case errors.Is(err, kafkago.MessageSizeTooLarge):
			o.leftOut(&cs[i], err)
		case err != nil:
			rest = append(rest, cs[i])
		}
	}
	return rest
}

func (o *Outputs) leftOut(c *quell.IncidentChange, err error) {
	o.log.Error("an incident change too large to publish is left out: consumers of the incidents topic miss it",
		"incident", c.Incident.ID, "seq", c.Seq, "alerts", len(c.Incident.Alerts), "err", err)
}

// Close waits for writes in flight.
func (o *Outputs) Close(context.Context) error {
	derr := o.decisions.Close()
	cerr := o.changes.Close()
	if derr != nil {
		return derr
	}
	return cerr
}
