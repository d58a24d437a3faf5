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
	return &writers{
		ticks: partitionWriter(p.cfg.Brokers, p.cfg.Names.Alerts, tr, p.log),
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

// partitionWriter writes records, each one that someone waits for, into
// the partition their key names (see partitionBalancer); tr may be nil.
func partitionWriter(brokers []string, topic string, tr *kafkago.Transport, log *slog.Logger) *kafkago.Writer {
	w := &kafkago.Writer{
		Addr: kafkago.TCP(brokers...), Topic: topic,
		Balancer:     partitionBalancer{},
		RequiredAcks: kafkago.RequireAll,
		// Every write is one record that someone waits for: no linger.
		BatchTimeout: time.Millisecond,
		BatchSize:    1,
		Compression:  kafkago.Lz4,
		MaxAttempts:  5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: 500 * time.Millisecond,
		ErrorLogger: kafkaLogger(log, slog.LevelDebug),
	}
	if tr != nil { // a nil *Transport in the interface field would be used, not defaulted
		w.Transport = tr
	}
	return w
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
