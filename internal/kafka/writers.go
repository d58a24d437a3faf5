package kafka

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// writers are the Partitioned consumer's own producers.
type writers struct {
	ticks, state, dead *kafkago.Writer
}

func (p *Partitioned) newWriters(tr *kafkago.Transport) *writers {
	mk := func(topic string, batchSize int, batchBytes int64) *kafkago.Writer {
		return &kafkago.Writer{
			Addr: kafkago.TCP(p.cfg.Brokers...), Topic: topic, Transport: tr,
			Balancer:     partitionBalancer{},
			RequiredAcks: kafkago.RequireAll,
			// Every write is waited for: no linger.
			BatchTimeout: time.Millisecond,
			BatchSize:    batchSize,
			BatchBytes:   batchBytes,
			Compression:  kafkago.Lz4,
			MaxAttempts:  5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: 500 * time.Millisecond,
			ErrorLogger: kafkaLogger(p.log, slog.LevelDebug),
		}
	}
	return &writers{
		ticks: mk(p.cfg.Names.Alerts, 1, 1<<10),
		// A checkpoint writes its records in one call: batches up to the
		// broker's default maximum (1 MB) of records of about 1 KB (kafka-go
		// allocates room for BatchSize records per batch).
		state: mk(p.cfg.Names.State, 1000, 1_000_000),
		dead:  newDeadLetterWriter(p.cfg.Brokers, p.cfg.Names.DeadLetter, tr),
	}
}

func (w *writers) close(log *slog.Logger) {
	for _, wr := range []*kafkago.Writer{w.ticks, w.state, w.dead} {
		if err := wr.Close(); err != nil {
			log.Warn("closing kafka writer", "topic", wr.Topic, "err", err)
		}
	}
}

// partitionBalancer sends a record to the partition its key begins with
// (the digits before a '/'): ticks and state records go to the partition
// they belong to, not where the key hashes.
type partitionBalancer struct{}

func (partitionBalancer) Balance(m kafkago.Message, partitions ...int) int {
	id, _, _ := strings.Cut(string(m.Key), "/")
	p, _ := strconv.Atoi(id)
	return p
}
