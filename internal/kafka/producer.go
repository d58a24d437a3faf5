package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
		Transport: &topicMetadata{RoundTripper: tr, topic: cfg.Topic},
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
		// A full batch goes out at once without waiting for the linger.
		// kafka-go gives every batch an array of BatchSize messages (152
		// bytes each) however few it holds: at 1000, those arrays were a
		// ninth of what a split correlator allocated.
		BatchSize: 256,
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
	r := recordsPool.Get().(*records)
	for i := range vs {
		var err error
		if r.enc, err = appendRecord(r.enc[:0], &vs[i]); err != nil {
			r.release()
			return fmt.Errorf("encoding record %d of %d for %s: %w", i, len(vs), p.topic, err)
		}
		key := p.key(&vs[i])
		if n := len(key) + len(r.enc) + recordOverhead; n > p.max {
			r.release()
			return &bus.TooLarge{Topic: p.topic, Index: i, Bytes: n, Limit: p.max}
		}
		r.msgs = append(r.msgs, kafkago.Message{Key: key, Value: r.value()})
	}
	err := p.w.WriteMessages(ctx, r.msgs...)
	if ctx.Err() == nil {
		// WriteMessages returned for every batch: kafka-go holds none of
		// the records any more. When ctx ends first it may still send them.
		r.release()
	}
	if err != nil {
		return fmt.Errorf("writing %d records to kafka topic %s: %w; none may be assumed accepted, retry", len(vs), p.topic, firstWriteError(err))
	}
	return nil
}

// records are one Publish call's messages and the blocks their values are
// copied into, recycled from call to call: a split correlator publishes a
// record for every decision and every incident change (each change holds
// all of its incident's alerts), and allocating them afresh was about a
// quarter of everything it allocated.
type records struct {
	msgs   []kafkago.Message
	enc    []byte   // the record being encoded
	blocks [][]byte // values, one after another
	cur    int      // the block being filled
	// large holds the values over blockSize, each in the buffer it was
	// encoded in, and past used the buffers of earlier calls' to encode in:
	// an incident change of hundreds of alerts grown from nothing each time
	// was most of what a split correlator allocated.
	large [][]byte
	used  int
}

var recordsPool = sync.Pool{New: func() any { return new(records) }}

// blockSize: values share blocks of this size; a larger one keeps the
// buffer it was encoded in.
const blockSize = 256 << 10

// value returns the record just encoded as a message's value.
func (r *records) value() []byte {
	if len(r.enc) > blockSize {
		if r.used == len(r.large) {
			r.large = append(r.large, nil)
		}
		v := r.enc
		r.enc, r.large[r.used] = r.large[r.used][:0], v
		r.used++
		return v
	}
	for r.cur < len(r.blocks) && cap(r.blocks[r.cur])-len(r.blocks[r.cur]) < len(r.enc) {
		r.cur++
	}
	if r.cur == len(r.blocks) {
		r.blocks = append(r.blocks, make([]byte, 0, blockSize))
	}
	b := r.blocks[r.cur]
	start := len(b)
	b = append(b, r.enc...)
	r.blocks[r.cur] = b
	return b[start:len(b):len(b)]
}

// release puts r back for the next Publish.
func (r *records) release() {
	clear(r.msgs) // the keys and values they point to
	r.msgs = r.msgs[:0]
	for i := range r.blocks {
		r.blocks[i] = r.blocks[i][:0]
	}
	r.cur = 0
	r.used = 0
	recordsPool.Put(r)
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
