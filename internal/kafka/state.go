package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// HeaderSnapshotOffset on a snapshot record is the next alerts offset to read: the
// snapshot covers every record before it.
const HeaderSnapshotOffset = "quell-snapshot-offset"

// maxStateBytes bounds one snapshot record (the state topic's
// max.message.bytes): about 100,000 live alerts.
const maxStateBytes = 64 << 20

// writers are the Partitioned consumer's own producers.
type writers struct {
	ticks, state, dead *kafkago.Writer
}

func (p *Partitioned) newWriters(tr *kafkago.Transport) *writers {
	mk := func(topic string, batchBytes int64) *kafkago.Writer {
		return &kafkago.Writer{
			Addr: kafkago.TCP(p.cfg.Brokers...), Topic: topic, Transport: tr,
			Balancer:     partitionBalancer{},
			RequiredAcks: kafkago.RequireAll,
			// Each write is one record that someone waits for: no linger.
			BatchTimeout: time.Millisecond,
			BatchBytes:   batchBytes,
			Compression:  kafkago.Lz4,
			MaxAttempts:  5, WriteBackoffMin: 50 * time.Millisecond, WriteBackoffMax: 500 * time.Millisecond,
			ErrorLogger: kafkaLogger(p.log, slog.LevelDebug),
		}
	}
	return &writers{
		ticks: mk(p.cfg.Names.Alerts, 1<<20),
		state: mk(p.cfg.Names.State, maxStateBytes),
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

// saveState writes partition id's state, covering the records before next,
// to partition id of the state topic.
func (p *Partitioned) saveState(ctx context.Context, id int, part Partition, next int64, w *writers) error {
	b, err := part.State()
	if err != nil {
		return fmt.Errorf("serializing the state of partition %d: %w", id, err)
	}
	m := kafkago.Message{Key: []byte(strconv.Itoa(id)), Value: b,
		Headers: []kafkago.Header{{Key: HeaderSnapshotOffset, Value: []byte(strconv.FormatInt(next, 10))}}}
	if err := w.state.WriteMessages(ctx, m); err != nil {
		return fmt.Errorf("writing the snapshot of partition %d (%d bytes) to %s: %w", id, len(b), p.cfg.Names.State, firstWriteError(err))
	}
	return nil
}

// loadState reads the latest snapshot of partition id: the last record of
// state partition id, since only that partition's owner writes there. With
// none, work starts at the oldest alert, rebuilding the state from the log.
func (p *Partitioned) loadState(ctx context.Context, id int) (state []byte, next int64, err error) {
	tr := newTransport([]string{p.cfg.Names.State})
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(p.cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{
		p.cfg.Names.State: {kafkago.FirstOffsetOf(id), kafkago.LastOffsetOf(id)},
	}})
	if err != nil {
		return nil, 0, fmt.Errorf("listing offsets of %s/%d: %w", p.cfg.Names.State, id, err)
	}
	var po *kafkago.PartitionOffsets
	for i, o := range resp.Topics[p.cfg.Names.State] {
		if o.Partition == id {
			po = &resp.Topics[p.cfg.Names.State][i]
		}
	}
	switch {
	case po == nil:
		return nil, 0, fmt.Errorf("listing offsets of %s/%d: no such partition; the state topic needs as many partitions as %s",
			p.cfg.Names.State, id, p.cfg.Names.Alerts)
	case po.Error != nil:
		return nil, 0, fmt.Errorf("listing offsets of %s/%d: %w", p.cfg.Names.State, id, po.Error)
	case po.LastOffset <= po.FirstOffset:
		return nil, kafkago.FirstOffset, nil
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: p.cfg.Brokers, Topic: p.cfg.Names.State, Partition: id, MinBytes: 1, MaxBytes: maxStateBytes,
		ErrorLogger: kafkaLogger(p.log, slog.LevelDebug),
	})
	defer r.Close()
	if err := r.SetOffset(po.LastOffset - 1); err != nil {
		return nil, 0, err
	}
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the snapshot at %s/%d@%d: %w", p.cfg.Names.State, id, po.LastOffset-1, err)
	}
	for _, h := range m.Headers {
		if h.Key == HeaderSnapshotOffset {
			next, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("snapshot at %s/%d@%d: bad %s header %q", p.cfg.Names.State, id, m.Offset, HeaderSnapshotOffset, h.Value)
			}
			return m.Value, next, nil
		}
	}
	return nil, 0, fmt.Errorf("snapshot at %s/%d@%d has no %s header: it was not written by quell; delete the state topic to rebuild from the alerts",
		p.cfg.Names.State, id, m.Offset, HeaderSnapshotOffset)
}
