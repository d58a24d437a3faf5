package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
)

// Consumption is one consumer group reading one topic.
type Consumption struct{ Group, Topic string }

// Consumptions are split mode's consumer groups: the correlator reading
// alerts, the sink stage reading decisions and incidents.
func Consumptions(prefix string, n Names) []Consumption {
	return []Consumption{
		{prefix + "-correlate", n.Alerts},
		{prefix + "-sink-decisions", n.Decisions},
		{prefix + "-sink-incidents", n.Incidents},
	}
}

// Lag is how many records of c.Topic the group has not committed yet,
// summed over the topic's partitions. A group commits as it checkpoints
// (the correlator every kafka.snapshot_every), so lag includes what was
// handled since.
func Lag(ctx context.Context, brokers []string, c Consumption) (int64, error) {
	tr := newTransport([]string{c.Topic})
	defer tr.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: tr, Timeout: 5 * time.Second}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.Topic}})
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: %w", c.Group, c.Topic, err)
	}
	var ids []int
	for _, t := range meta.Topics {
		if t.Name == c.Topic && t.Error == nil {
			for _, p := range t.Partitions {
				ids = append(ids, p.ID)
			}
		}
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("lag of %s on %s: no such topic", c.Group, c.Topic)
	}
	var reqs []kafkago.OffsetRequest
	for _, id := range ids {
		reqs = append(reqs, kafkago.FirstOffsetOf(id), kafkago.LastOffsetOf(id))
	}
	ends, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{c.Topic: reqs}})
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: %w", c.Group, c.Topic, err)
	}
	committed, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: c.Group, Topics: map[string][]int{c.Topic: ids}})
	if err != nil {
		return 0, fmt.Errorf("lag of %s on %s: %w", c.Group, c.Topic, err)
	}
	at := map[int]int64{}
	for _, p := range committed.Topics[c.Topic] {
		at[p.Partition] = p.CommittedOffset
	}
	var lag int64
	for _, po := range ends.Topics[c.Topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("lag of %s on %s/%d: %w", c.Group, c.Topic, po.Partition, po.Error)
		}
		from, ok := at[po.Partition]
		if !ok || from < po.FirstOffset { // nothing committed yet (-1), or compacted past
			from = po.FirstOffset
		}
		lag += max(po.LastOffset-from, 0)
	}
	return lag, nil
}

// LagMonitor measures consumer groups' lag at most every interval (a
// scrape or a readiness probe reads the last measure) and exports it as
// quell_kafka_consumer_lag{group,topic}.
type LagMonitor struct {
	brokers []string
	cs      []Consumption
	every   time.Duration
	log     *slog.Logger
	desc    *prometheus.Desc

	mu   sync.Mutex
	at   time.Time
	lags []int64 // per cs; -1: unknown
}

func NewLagMonitor(brokers []string, cs []Consumption, every time.Duration, log *slog.Logger) *LagMonitor {
	return &LagMonitor{brokers: brokers, cs: cs, every: every, log: log,
		desc: prometheus.NewDesc("quell_kafka_consumer_lag", "Records of a topic its consumer group has not committed yet (split mode).", []string{"group", "topic"}, nil)}
}

// Lags returns each consumption's lag, measured within the last interval
// (-1 where it could not be measured).
func (m *LagMonitor) Lags() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lags != nil && time.Since(m.at) < m.every {
		return m.lags
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.lags = make([]int64, len(m.cs))
	for i, c := range m.cs {
		n, err := Lag(ctx, m.brokers, c)
		if err != nil {
			m.log.Debug("measuring consumer lag failed", "err", err)
			n = -1
		}
		m.lags[i] = n
	}
	m.at = time.Now()
	return m.lags
}

// Over returns an error naming the first consumption whose lag is above bound.
func (m *LagMonitor) Over(bound int64) error {
	for i, n := range m.Lags() {
		if n > bound {
			return fmt.Errorf("consumer group %s is %d records behind on %s (kafka.max_lag %d)", m.cs[i].Group, n, m.cs[i].Topic, bound)
		}
	}
	return nil
}

func (m *LagMonitor) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *LagMonitor) Collect(ch chan<- prometheus.Metric) {
	for i, n := range m.Lags() {
		if n >= 0 {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(n), m.cs[i].Group, m.cs[i].Topic)
		}
	}
}
