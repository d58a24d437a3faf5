package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
)

// HeaderFeedback marks a person's feedback in the alerts topic; its value
// is the feedback's JSON. It travels in the partition of the incident it
// acts on, in order with that partition's alerts, so a correlator that
// replays the partition applies it at the same point.
const HeaderFeedback = "quell-feedback"

// FeedbackWriter writes feedback into a chosen partition of the alerts topic.
type FeedbackWriter struct {
	w *kafkago.Writer
}

// NewFeedbackWriter writes to the alerts topic of names.
func NewFeedbackWriter(brokers []string, names Names, log *slog.Logger) *FeedbackWriter {
	return &FeedbackWriter{w: partitionWriter(brokers, names.Alerts, nil, log)}
}

// Send writes f into partition and returns once all in-sync replicas hold it.
func (fw *FeedbackWriter) Send(ctx context.Context, partition int, f *quell.Feedback) error {
	v, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return fw.w.WriteMessages(ctx, kafkago.Message{Key: []byte(strconv.Itoa(partition)), Value: v, Headers: []kafkago.Header{{Key: HeaderFeedback}}})
}

func (fw *FeedbackWriter) Close() error { return fw.w.Close() }

func decodeFeedback(b []byte) (Event, error) {
	var f quell.Feedback
	if err := json.Unmarshal(b, &f); err != nil {
		return Event{}, fmt.Errorf("feedback: %w", err)
	}
	if err := f.Validate(); err != nil {
		return Event{}, fmt.Errorf("feedback: %w", err)
	}
	return Event{Feedback: &f, At: f.At}, nil
}
