package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
)

// newTransport gives each client its own connections and metadata cache:
// kafka-go's DefaultTransport is shared by the whole process, so one
// client's stale view of a topic would be every client's. topics limits the
// cached metadata to those topics (nil: all).
func newTransport(topics []string) *kafkago.Transport {
	return &kafkago.Transport{ClientID: "quell", MetadataTopics: topics}
}

// topicMetadata answers a Writer's metadata requests for its one topic from
// the last good answer, for up to metadataFor: kafka-go's Writer asks for the
// topic's partitions once per message it writes, and the transport, though
// it caches the answer, copies it for each: a tenth of ingest's CPU. Other
// requests (produce) go to the transport, which refreshes its own view when
// a partition's leader moves.
type topicMetadata struct {
	kafkago.RoundTripper
	topic string
	mu    sync.Mutex
	last  *metadata.Response
	at    time.Time
}

// metadataFor is how long an answer is reused: a topic that gains
// partitions is written to all of them a second later.
const metadataFor = time.Second

func (t *topicMetadata) RoundTrip(ctx context.Context, addr net.Addr, req kafkago.Request) (kafkago.Response, error) {
	m, ok := req.(*metadata.Request)
	if !ok || len(m.TopicNames) != 1 || m.TopicNames[0] != t.topic {
		return t.RoundTripper.RoundTrip(ctx, addr, req)
	}
	t.mu.Lock()
	last, at := t.last, t.at
	t.mu.Unlock()
	if last != nil && time.Since(at) < metadataFor {
		return last, nil
	}
	res, err := t.RoundTripper.RoundTrip(ctx, addr, req)
	if r, ok := res.(*metadata.Response); err == nil && ok && len(r.Topics) == 1 && r.Topics[0].ErrorCode == 0 {
		t.mu.Lock()
		t.last, t.at = r, time.Now()
		t.mu.Unlock()
	}
	return res, err
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
