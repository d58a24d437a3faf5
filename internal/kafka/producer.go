package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell/internal/bus"
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Brokers []string
	Topic   string
	// Linger is how long a partly filled batch waits for more records before
	// it is sent (default 5ms). Publish waits for its own batches, so this is
	// the latency a lone request pays for sharing produce requests with
	// concurrent ones.
	Linger time.Duration
	// MaxRecord bounds one record, key and value (default maxRecord).
	MaxRecord int
	Logger    *slog.Logger
}

// Producer writes values of T as JSON records to one topic. It is safe for
// concurrent use; concurrent Publish calls share produce requests.
type Producer[T any] struct {
	topic string
	max   int
	key   func(*T) []byte
	w     *kafkago.Writer
	tr    *kafkago.Transport
}

// NewProducer returns a producer whose records are keyed by key(v): records
// with one key land in one partition, in order.
func NewProducer[T any](cfg ProducerConfig, key func(*T) []byte) (*Producer[T], error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka producer: no brokers given: set the bootstrap addresses (--kafka)")
	case cfg.Topic == "":
		return nil, errors.New("kafka producer: no topic given")
	case key == nil:
		return nil, fmt.Errorf("kafka producer for %s: no key function given", cfg.Topic)
	case cfg.Logger == nil:
		return nil, fmt.Errorf("kafka producer for %s: no logger given", cfg.Topic)
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 5 * time.Millisecond
	}
	if cfg.MaxRecord <= 0 {
		cfg.MaxRecord = maxRecord
	}
	tr := newTransport([]string{cfg.Topic})
	log := cfg.Logger.With("topic", cfg.Topic)
	w := &kafkago.Writer{
		Addr:      kafkago.TCP(cfg.Brokers...),
		Topic:     cfg.Topic,
		Transport: tr,
		// Java's and librdkafka's partitioner: any other client that writes
		// with the same key (a scope's state, say) lands in the same partition.
		Balancer: &kafkago.Murmur2Balancer{},
		// Publish returns nil only once every in-sync replica holds the
		// records (kafka-go's default is RequireNone: fire and forget).
		RequiredAcks: kafkago.RequireAll,
		// Synchronous: WriteMessages returns the broker's verdict. Async would
		// return at once and drop write errors.
		Async: false,
		// kafka-go's default of 1s would add up to a second to every ingest
		// request: a partly filled batch waits this long for company.
		BatchTimeout: cfg.Linger,
		// A full batch goes out at once without waiting for the linger; 1000
		// alerts of about 1 KB still fit BatchBytes.
		BatchSize: 1000,
		// Under the topic's max.message.bytes (the broker's default of
		// 1 MiB, or maxIncidentRecord) with room for record framing, so a full
		// batch is never rejected as too large.
		BatchBytes: int64(cfg.MaxRecord),
		// Alerts are repetitive JSON (the same label names over and over):
		// lz4 shrinks them severalfold for little CPU.
		Compression: kafkago.Lz4,
		// A few quick retries ride out a leader election; the caller's context
		// bounds the whole call, and the caller retries beyond that.
		MaxAttempts:     5,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Logger:          kafkaLogger(log, slog.LevelDebug),
		ErrorLogger:     kafkaLogger(log, slog.LevelWarn),
	}
	return &Producer[T]{topic: cfg.Topic, max: cfg.MaxRecord, key: key, w: w, tr: tr}, nil
}

// maxRecord bounds a record (key and value) by default: kafka-go refuses a
// message larger than its Writer's BatchBytes, and no retry would change
// that. recordOverhead is what kafka-go adds to key and value when it counts.
const (
	maxRecord      = 1_000_000
	recordOverhead = 64
)

// Publish writes vs and returns nil once the broker acknowledged all of them.
// On error none may be assumed written (some may be): retry the whole call;
// consumers are idempotent, so duplicates are harmless. A *bus.TooLarge
// error, for a record over the producer's MaxRecord, comes before anything
// is written.
func (p *Producer[T]) Publish(ctx context.Context, vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	msgs := make([]kafkago.Message, len(vs))
	// The values share blocks: one allocation per few hundred records,
	// not one per record.
	var block []byte
	for i := range vs {
		if cap(block)-len(block) < 4<<10 {
			block = make([]byte, 0, min(256<<10, 4<<10+(len(vs)-i)<<10)) // records are about 1 KiB
		}
		start := len(block)
		var err error
		if block, err = appendRecord(block, &vs[i]); err != nil {
			return fmt.Errorf("encoding record %d of %d for %s: %w", i, len(vs), p.topic, err)
		}
		msgs[i] = kafkago.Message{Key: p.key(&vs[i]), Value: block[start:len(block):len(block)]}
		if n := len(msgs[i].Key) + len(msgs[i].Value) + recordOverhead; n > p.max {
			return &bus.TooLarge{Topic: p.topic, Index: i, Bytes: n, Limit: p.max}
		}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("writing %d records to kafka topic %s: %w; none may be assumed accepted, retry", len(vs), p.topic, firstWriteError(err))
	}
	return nil
}

// firstWriteError digs the cause out of kafka-go's per-message WriteErrors,
// whose own text only counts the failures.
func firstWriteError(err error) error {
	var werr kafkago.WriteErrors
	if errors.As(err, &werr) {
		for _, e := range werr {
			if e != nil {
				return fmt.Errorf("%d of %d failed, first: %w", werr.Count(), len(werr), e)
			}
		}
	}
	return err
}

// Close waits for writes in flight and releases the connections.
func (p *Producer[T]) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("closing kafka producer for %s: %w", p.topic, err)
	}
	return nil
}
