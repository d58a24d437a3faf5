package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Headers a dead-letter record carries beside the original key, value and
// headers: why it was parked and where it came from, so it can be fixed and
// replayed.
const (
	HeaderReason    = "quell-deadletter-reason"
	HeaderTopic     = "quell-deadletter-topic"
	HeaderPartition = "quell-deadletter-partition"
	HeaderOffset    = "quell-deadletter-offset"
	HeaderGroup     = "quell-deadletter-group"
	HeaderAt        = "quell-deadletter-at"
)

// newDeadLetterWriter writes one record at a time and waits for all replicas:
// what it parks stands for work committed only after the write (a source
// offset, a batch of output), so it must not be lost in between.
func newDeadLetterWriter(brokers []string, topic string, tr *kafkago.Transport) *kafkago.Writer {
	return &kafkago.Writer{
		Addr:         kafkago.TCP(brokers...),
		Topic:        topic,
		Transport:    tr,
		RequiredAcks: kafkago.RequireAll,
		// Poison is rare and each record is written alone: no batch to wait for.
		BatchSize:   1,
		MaxAttempts: 5,
	}
}

// deadLetter parks m in the dead-letter topic with the reason it could not
// be processed.
func deadLetter(ctx context.Context, w *kafkago.Writer, group string, m kafkago.Message, reason error) error {
	headers := append(m.Headers[:len(m.Headers):len(m.Headers)],
		kafkago.Header{Key: HeaderReason, Value: []byte(reason.Error())},
		kafkago.Header{Key: HeaderTopic, Value: []byte(m.Topic)},
		kafkago.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		kafkago.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		kafkago.Header{Key: HeaderGroup, Value: []byte(group)},
		kafkago.Header{Key: HeaderAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	err := w.WriteMessages(ctx, kafkago.Message{Key: m.Key, Value: m.Value, Headers: headers})
	if err != nil {
		return fmt.Errorf("parking undecodable record %s/%d@%d in dead-letter topic %s: %w; it stays uncommitted and is retried on restart",
			m.Topic, m.Partition, m.Offset, w.Topic, firstWriteError(err))
	}
	return nil
}
