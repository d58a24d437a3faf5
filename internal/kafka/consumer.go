package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers []string
	Topic   string
	// GroupID names the consumer group: the instances of one stage share it
	// and split the topic's partitions between them.
	GroupID string
	// DeadLetterTopic receives records that cannot be decoded (default
	// TopicDeadLetter).
	DeadLetterTopic string
	// A batch is handed over once it holds MaxBatch records (default 500) or
	// Linger after its first record arrived (default 10ms).
	MaxBatch int
	Linger   time.Duration
	Logger   *slog.Logger
}

// Consumer reads JSON records of T as a member of a consumer group, hands
// them to a handler in batches and commits a batch's offsets only after the
// handler returned nil: at-least-once delivery.
type Consumer[T any] struct {
	cfg ConsumerConfig
	log *slog.Logger
}

// NewConsumer checks cfg and fills in its defaults; Subscribe connects.
func NewConsumer[T any](cfg ConsumerConfig) (*Consumer[T], error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("kafka consumer: no brokers given: set the bootstrap addresses (--kafka)")
	case cfg.Topic == "":
		return nil, errors.New("kafka consumer: no topic given")
	case cfg.GroupID == "":
		return nil, fmt.Errorf("kafka consumer for %s: no consumer group id given", cfg.Topic)
	case cfg.Logger == nil:
		return nil, fmt.Errorf("kafka consumer for %s: no logger given", cfg.Topic)
	}
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = TopicDeadLetter
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 10 * time.Millisecond
	}
	return &Consumer[T]{cfg: cfg, log: cfg.Logger.With("topic", cfg.Topic, "group", cfg.GroupID)}, nil
}

// Subscribe joins the group and hands batches to h until ctx ends (then it
// returns nil, leaving what was not handled to the group) or h fails (then it
// returns h's error, leaving that batch uncommitted for redelivery).
func (c *Consumer[T]) Subscribe(ctx context.Context, h func(context.Context, []T) error) error {
	r := c.newReader()
	tr := newTransport([]string{c.cfg.DeadLetterTopic})
	dl := newDeadLetterWriter(c.cfg.Brokers, c.cfg.DeadLetterTopic, tr)
	defer func() {
		// Close leaves the group, so the partitions move to the others at once.
		if err := r.Close(); err != nil { // the current reader: a retry replaces it
			c.log.Warn("closing kafka reader", "err", err)
		}
		if err := dl.Close(); err != nil {
			c.log.Warn("closing dead-letter writer", "err", err)
		}
		tr.CloseIdleConnections()
	}()
	backoff := time.Second
	var vals []T
	var msgs []kafkago.Message
	for {
		var err error
		vals, msgs, err = c.fetch(ctx, r, dl, len(vals), msgs[:0])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The broker is away (restart, leader election): wait and read
			// again from the last committed offset with a new reader.
			c.log.Warn("reading failed; retrying with a new reader", "err", err, "backoff", backoff)
			r.Close()
			if sleep(ctx, backoff) != nil {
				return nil
			}
			backoff = min(2*backoff, 30*time.Second)
			r = c.newReader()
			continue
		}
		backoff = time.Second
		if len(vals) > 0 {
			if err := h(ctx, vals); err != nil {
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return nil // shutting down: the batch is delivered again
				}
				return fmt.Errorf("handling a batch of %d records from %s: %w; its offsets stay uncommitted and the group delivers it again",
					len(vals), c.cfg.Topic, err)
			}
		}
		c.commit(ctx, r, msgs)
	}
}

func (c *Consumer[T]) newReader() *kafkago.Reader {
	return kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: c.cfg.Brokers,
		Topic:   c.cfg.Topic,
		GroupID: c.cfg.GroupID,
		// Room for the next whole batch while the handler works on this one.
		QueueCapacity: c.cfg.MaxBatch,
		// The broker answers a fetch as soon as it has any record; batches
		// form in fetch's linger, not by holding fetches on the broker.
		MinBytes: 1,
		// Per partition fetch; above the broker's default 1 MiB record limit.
		MaxBytes: 4 << 20,
		// kafka-go uses this as the fetch's read deadline and asks the broker
		// to hold an idle fetch 1s less: 2s gives a 1s margin (with 1s, only
		// 250ms, and a busy broker's late answers became i/o timeouts and
		// reconnects) while shutdown and rebalances wait at most 2s for it.
		MaxWait: 2 * time.Second,
		// Synchronous commits: CommitMessages returns once the offsets are
		// stored, so a batch counts as done only then.
		CommitInterval: 0,
		// A new group starts at the oldest record: alerts published before
		// the stage's first start are not skipped.
		StartOffset: kafkago.FirstOffset,
		// A crashed member's partitions move after 10s instead of 30s.
		SessionTimeout: 10 * time.Second,
		// Lag is read from the group's offsets on the broker, not polled by
		// every reader once a minute.
		ReadLagInterval: -1,
		Logger:          kafkaLogger(c.log, slog.LevelDebug),
		ErrorLogger:     kafkaLogger(c.log, slog.LevelWarn),
	})
}

// fetch collects one batch: it waits for a first record, then takes more
// until the batch is full or the linger is over. vals holds the decoded
// records, with room made for as many as the last batch held (grown from
// nothing, a batch of decisions was copied about twice over); msgs all
// records, the dead-lettered ones included, for the commit, in the array of
// the last batch's, which were committed by then.
func (c *Consumer[T]) fetch(ctx context.Context, r *kafkago.Reader, dl *kafkago.Writer, last int, msgs []kafkago.Message) (vals []T, _ []kafkago.Message, err error) {
	clear(msgs[:cap(msgs)]) // the last batch's records may go
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching from %s as group %s: %w", c.cfg.Topic, c.cfg.GroupID, err)
	}
	vals = make([]T, 0, last)
	linger, cancel := context.WithTimeout(ctx, c.cfg.Linger)
	defer cancel()
	for {
		v, err := decode[T](m.Value)
		if err != nil {
			c.log.Warn("undecodable record sent to the dead-letter topic",
				"partition", m.Partition, "offset", m.Offset, "deadletter", c.cfg.DeadLetterTopic, "err", err)
			if err := deadLetter(ctx, dl, c.cfg.GroupID, m, err); err != nil {
				return nil, nil, err
			}
		} else {
			vals = append(vals, v)
		}
		msgs = append(msgs, m)
		if len(msgs) >= c.cfg.MaxBatch {
			return vals, msgs, nil
		}
		m, err = r.FetchMessage(linger)
		if err != nil {
			if ctx.Err() == nil && linger.Err() != nil {
				return vals, msgs, nil
			}
			return nil, nil, fmt.Errorf("fetching from %s as group %s: %w", c.cfg.Topic, c.cfg.GroupID, err)
		}
	}
}

// commit stores the batch's offsets. It does so even when ctx has just
// ended, since the batch was handled. A failed commit loses nothing (the
// batch is delivered again, and every stage is idempotent), so it is logged,
// not fatal: it happens routinely when a rebalance ends the generation.
func (c *Consumer[T]) commit(ctx context.Context, r *kafkago.Reader, msgs []kafkago.Message) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.CommitMessages(cctx, msgs...); err != nil {
		c.log.Warn("committing offsets failed; the batch will be delivered again", "records", len(msgs), "err", err)
	}
}
