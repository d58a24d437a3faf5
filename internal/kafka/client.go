package kafka

import (
	"context"
	"fmt"
	"log/slog"

	kafkago "github.com/segmentio/kafka-go"
)

// newTransport gives each client its own connections and metadata cache:
// kafka-go's DefaultTransport is shared by the whole process, so one
// client's stale view of a topic would be every client's. topics limits the
// cached metadata to those topics (nil: all).
func newTransport(topics []string) *kafkago.Transport {
	return &kafkago.Transport{ClientID: "quell", MetadataTopics: topics}
}

// kafkaLogger adapts slog to kafka-go's printf-style logger. kafka-go logs a
// line per batch, so the level check comes before the formatting.
func kafkaLogger(log *slog.Logger, level slog.Level) kafkago.LoggerFunc {
	return func(format string, args ...any) {
		if log.Enabled(context.Background(), level) {
			log.Log(context.Background(), level, fmt.Sprintf(format, args...))
		}
	}
}

// Ping checks that the brokers answer a metadata request: the readiness of
// a stage that needs Kafka.
func Ping(ctx context.Context, brokers []string) error {
	tr := newTransport([]string{})
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr}
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{}}); err != nil {
		return fmt.Errorf("kafka brokers %v do not answer: %w", brokers, err)
	}
	return nil
}
