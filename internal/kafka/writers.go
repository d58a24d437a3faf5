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
	ticks, dead *kafkago.Writer
	state       *stateWriter
}

func (p *Partitioned) newWriters(tr *kafkago.Transport) *writers {
	mk := func(topic string) *kafkago.Writer {
		return &kafkago.Writer{
			Addr: kafkago.TCP(p.cfg.Brokers...), Topic: topic, Transport: tr,
			Balancer:     partitionBalancer{},
			RequiredAcks: kafkago.RequireAll,
			// Every write is one record that someone waits for: no linger.
			BatchTimeout: time.Millisecond,
			BatchSize:    1,
			Compression:  kafkago.Lz4,
			MaxAttempts:  5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: 500 * time.Millisecond,
			ErrorLogger: kafkaLogger(p.log, slog.LevelDebug),
		}
	}
	return &writers{
		ticks: mk(p.cfg.Names.Alerts),
		state: &stateWriter{client: &kafkago.Client{Addr: kafkago.TCP(p.cfg.Brokers...), Transport: tr, Timeout: 30 * time.Second}, topic: p.cfg.Names.State},
		dead:  newDeadLetterWriter(p.cfg.Brokers, p.cfg.Names.DeadLetter, tr),
	}
}

func (w *writers) close(log *slog.Logger) {
	for _, wr := range []*kafkago.Writer{w.ticks, w.dead} {
		if err := wr.Close(); err != nil {
			log.Warn("closing kafka writer", "topic", wr.Topic, "err", err)
		}
	}
}

// partitionBalancer sends a record to the partition its key begins with
// (the digits before a '/'): a tick goes to the partition it belongs to,
// not where its key hashes.
type partitionBalancer struct{}

func (partitionBalancer) Balance(m kafkago.Message, partitions ...int) int {
	id, _, _ := strings.Cut(string(m.Key), "/")
	p, _ := strconv.Atoi(id)
	return p
}
