package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"
)

// Consumption is one consumer group reading one topic.
type Consumption struct{ Group, Topic string }

// Consumptions are split mode's consumer groups: the correlator reading
// alerts (first: LagMonitor.Late reads it), the sink stage reading
// decisions, and incidents when a sink takes changes.
func Consumptions(prefix string, n Names, changes bool) []Consumption {
	cs := []Consumption{
		{prefix + "-correlate", n.Alerts},
		{prefix + "-sink-decisions", n.Decisions},
	}
	if changes {
		cs = append(cs, Consumption{prefix + "-sink-incidents", n.Incidents})
	}
	return cs
}

// Offsets are where a consumer group stands on each partition of a topic.
type Offsets struct {
	At time.Time
	// Committed and End by partition: the group's committed offset (the
	// first offset when it committed none) and the log end.
	Committed, End map[int]int64
}

// Lag is the records the group has not committed yet, summed over the
// partitions. A group commits as it checkpoints (the correlator every
// kafka.snapshot_every), so this includes what was handled since.
func (o Offsets) Lag() int64 {
	var n int64
	for p, end := range o.End {
		n += max(end-o.Committed[p], 0)
	}
	return n
}

// lagClient asks the brokers where consumer groups stand on topics. It
// keeps its connections: a LagMonitor measures every second.
func lagClient(brokers, topics []string) *kafkago.Client {
	return &kafkago.Client{Addr: kafkago.TCP(brokers...), Transport: newTransport(topics), Timeout: 5 * time.Second}
}

// Measure returns where c's group stands on c's topic.
func Measure(ctx context.Context, client *kafkago.Client, c Consumption) (Offsets, error) {
	o := Offsets{At: time.Now(), Committed: map[int]int64{}, End: map[int]int64{}}
	fail := func(err error) (Offsets, error) { return o, fmt.Errorf("lag of %s on %s: %w", c.Group, c.Topic, err) }
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{c.Topic}})
	if err != nil {
		return fail(err)
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
		return fail(errors.New("no such topic"))
	}
	var reqs []kafkago.OffsetRequest
	for _, id := range ids {
		reqs = append(reqs, kafkago.FirstOffsetOf(id), kafkago.LastOffsetOf(id))
	}
	ends, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{c.Topic: reqs}})
	if err != nil {
		return fail(err)
	}
	committed, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: c.Group, Topics: map[string][]int{c.Topic: ids}})
	if err != nil {
		return fail(err)
	}
	at := map[int]int64{}
	for _, p := range committed.Topics[c.Topic] {
		at[p.Partition] = p.CommittedOffset
	}
	for _, po := range ends.Topics[c.Topic] {
		if po.Error != nil {
			return fail(fmt.Errorf("partition %d: %w", po.Partition, po.Error))
		}
		from, ok := at[po.Partition]
		if !ok || from < po.FirstOffset { // nothing committed yet (-1), or compacted past
			from = po.FirstOffset
		}
		o.Committed[po.Partition], o.End[po.Partition] = from, po.LastOffset
	}
	return o, nil
}

// CatchUp is how long the group needs to commit what it has not, at the
// pace it committed since earlier: the longest over the partitions, and
// +Inf for a partition that is behind and did not move. It is how late a
// decision about an alert published now would come. ok is false when
// earlier is not old enough to tell a pace.
func (o Offsets) CatchUp(earlier Offsets) (d time.Duration, ok bool) {
	span := o.At.Sub(earlier.At)
	if span < minPaceSpan {
		return 0, false
	}
	for p, end := range o.End {
		lag := end - o.Committed[p]
		if lag <= 0 {
			continue
		}
		before, seen := earlier.Committed[p]
		if !seen {
			continue // a new partition: no pace yet
		}
		moved := o.Committed[p] - before
		if moved <= 0 {
			return Stalled, true
		}
		d = max(d, time.Duration(float64(span)*float64(lag)/float64(moved)))
	}
	return d, true
}

// Stalled is the catch-up time of a group that is behind and does not move.
const Stalled = time.Duration(math.MaxInt64)

// The pace is measured over paceWindow (at least minPaceSpan): long enough
// to span several checkpoints, short enough to follow a change of load.
const (
	paceWindow  = 30 * time.Second
	minPaceSpan = 10 * time.Second
)

// LagMonitor measures where consumer groups stand at most every interval
// (a scrape, a readiness probe or an ingest request reads the last
// measure) and exports quell_kafka_consumer_lag{group,topic} and
// quell_kafka_consumer_catchup_seconds{group,topic}.
type LagMonitor struct {
	client  *kafkago.Client
	cs      []Consumption
	every   time.Duration
	log     *slog.Logger
	lag     *prometheus.Desc
	catchUp *prometheus.Desc

	mu        sync.Mutex
	at        time.Time
	history   [][]Offsets // per cs, oldest first, over paceWindow; a failed measure adds none
	measuring bool
}

func NewLagMonitor(brokers []string, cs []Consumption, every time.Duration, log *slog.Logger) *LagMonitor {
	var topics []string
	for _, c := range cs {
		topics = append(topics, c.Topic)
	}
	return &LagMonitor{client: lagClient(brokers, topics), cs: cs, every: every, log: log, history: make([][]Offsets, len(cs)),
		lag: prometheus.NewDesc("quell_kafka_consumer_lag", "Records of a topic its consumer group has not committed yet (split mode).", []string{"group", "topic"}, nil),
		catchUp: prometheus.NewDesc("quell_kafka_consumer_catchup_seconds",
			"How long a consumer group needs to commit what it has not, at the slower of its paces over the last 30 s and 10 s (split mode).", []string{"group", "topic"}, nil)}
}

// Behind is how far one consumption is behind, as last measured.
type Behind struct {
	Records int64
	CatchUp time.Duration // valid when Paced
	Paced   bool
}

// behind returns how far consumption i is behind (Records -1 while it
// was never measured), as last measured: a read that finds the measure
// older than the interval starts a new one and does not wait for it, so
// that ingest requests never queue behind the brokers.
func (m *LagMonitor) behind(i int) Behind {
	m.mu.Lock()
	defer m.mu.Unlock()
	if time.Since(m.at) >= m.every && !m.measuring {
		m.measuring = true
		go m.measure()
	}
	h := m.history[i]
	if len(h) == 0 {
		return Behind{Records: -1}
	}
	b := Behind{Records: h[len(h)-1].Lag()}
	b.CatchUp, b.Paced = catchUp(h)
	return b
}

// catchUp is the catch-up time at the newest of h (oldest first), at the
// slower of two paces: over the whole history and over its last
// minPaceSpan. A correlator slows down as its state fills: the pace of
// the whole window alone promised a 30 s catch-up that took 45.
func catchUp(h []Offsets) (time.Duration, bool) {
	last := h[len(h)-1]
	d, ok := last.CatchUp(h[0])
	for i := len(h) - 2; i > 0; i-- {
		if last.At.Sub(h[i].At) >= minPaceSpan {
			recent, _ := last.CatchUp(h[i])
			return max(d, recent), ok
		}
	}
	return d, ok
}

func (m *LagMonitor) measure() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make([]*Offsets, len(m.cs))
	for i, c := range m.cs {
		o, err := Measure(ctx, m.client, c)
		if err != nil {
			m.log.Debug("measuring consumer lag failed", "err", err)
			continue
		}
		got[i] = &o
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, o := range got {
		if o == nil {
			continue
		}
		h := append(m.history[i], *o)
		// Keep the newest sample at least paceWindow old, and the ones since.
		for len(h) > 2 && o.At.Sub(h[1].At) >= paceWindow {
			h = h[1:]
		}
		m.history[i] = h
	}
	m.at, m.measuring = time.Now(), false
}

// Late returns an error while the first consumption (the correlator on
// the alerts topic) needs longer than bound to catch up.
func (m *LagMonitor) Late(bound time.Duration) error {
	b := m.behind(0) // per ingest request: the correlator's alone
	if !b.Paced || b.CatchUp <= bound {
		return nil
	}
	need := "does not move"
	if b.CatchUp != Stalled {
		need = "needs " + b.CatchUp.Round(time.Second).String() + " to catch up"
	}
	return fmt.Errorf("the correlator (consumer group %s) is %d records behind on %s and %s at its pace (kafka.max_delay %s)",
		m.cs[0].Group, b.Records, m.cs[0].Topic, need, bound)
}

func (m *LagMonitor) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lag
	ch <- m.catchUp
}

func (m *LagMonitor) Collect(ch chan<- prometheus.Metric) {
	for i := range m.cs {
		b := m.behind(i)
		if b.Records >= 0 {
			ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(b.Records), m.cs[i].Group, m.cs[i].Topic)
		}
		if b.Paced {
			v := b.CatchUp.Seconds()
			if b.CatchUp == Stalled {
				v = math.Inf(1)
			}
			ch <- prometheus.MustNewConstMetric(m.catchUp, prometheus.GaugeValue, v, m.cs[i].Group, m.cs[i].Topic)
		}
	}
}
