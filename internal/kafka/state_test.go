package kafka

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell/internal/testenv"
)

// stateFixture is a Partitioned consumer with a fresh state topic of one
// partition (the state of alerts partition 0).
func stateFixture(t testing.TB) (*Partitioned, *stateWriter) {
	brokers, log := broker(t)
	names := NamesFor(unique(t, "q"))
	spec := Topics(names, 1, 1)[4]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, brokers, []TopicSpec{spec}, log); err != nil {
		t.Fatal(err)
	}
	p, err := NewPartitioned(PartitionedConfig{Brokers: brokers, Names: names, GroupID: "g", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ws := p.newWriters(newTransport([]string{names.State}))
	t.Cleanup(func() { ws.close(log) })
	return p, ws.state
}

// recs streams records of keys and values ("-": deleted) as Delta.Each
// does: each value from one buffer, written over once yield returns, so a
// save that kept a value instead of copying it writes garbage.
func recs(kv ...string) StateChanges {
	return func(yield func(StateRecord) error) error {
		var buf []byte
		for i := 0; i < len(kv); i += 2 {
			r := StateRecord{Key: kv[i]}
			if kv[i+1] != "-" {
				buf = append(buf[:0], kv[i+1]...)
				r.Value = buf
			}
			if err := yield(r); err != nil {
				return err
			}
			for j := range buf {
				buf[j] = '#'
			}
		}
		return nil
	}
}

func loadState(t testing.TB, p *Partitioned) (*stateLog, restored) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, res, err := p.load(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, res
}

func wantState(t *testing.T, res restored, next int64, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range res.state {
		got[k] = string(v)
	}
	if !maps.Equal(got, want) || res.next != next {
		t.Fatalf("restored %v up to %d, want %v up to %d", got, res.next, want, next)
	}
}

// A restore returns what the last commit covers: changed values, deleted
// keys gone, and nothing of a checkpoint a crash cut short, whose records
// the next checkpoint deletes.
func TestStateLogRestoresTheLastCommit(t *testing.T) {
	p, w := stateFixture(t)
	ctx := context.Background()
	s, res := loadState(t, p)
	if res.state != nil || res.next != kafkago.FirstOffset {
		t.Fatalf("an empty topic restored %v from %d", res.state, res.next)
	}
	if err := s.save(ctx, recs("a", "1", "b", "2", "c", "3"), 10, w); err != nil {
		t.Fatal(err)
	}
	if err := s.save(ctx, recs("a", "10", "b", "-", "x", "-"), 20, w); err != nil {
		t.Fatal(err)
	}
	_, res = loadState(t, p)
	wantState(t, res, 20, map[string]string{"a": "10", "c": "3"})

	// A crash in the middle of checkpoint 3: its records, no commit.
	cut := w.batch(0)
	for _, kv := range [][2]string{{"0/a@3", "100"}, {"0/d@3", "4"}} {
		if err := cut.add(ctx, []byte(kv[0]), []byte(kv[1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := cut.flush(ctx); err != nil {
		t.Fatal(err)
	}
	s, res = loadState(t, p)
	wantState(t, res, 20, map[string]string{"a": "10", "c": "3"})
	slices.Sort(s.obsolete)
	if want := []string{"a@1", "a@3", "b@1", "d@3", "deleted/0@2"}; !slices.Equal(s.obsolete, want) {
		t.Fatalf("obsolete records %v, want %v", s.obsolete, want)
	}
	if s.checkpoint != 3 {
		t.Fatalf("the next checkpoint would be %d, want 4: after the cut-short one", s.checkpoint+1)
	}

	// The next owner goes on; the cut-short records are tombstoned.
	if err := s.save(ctx, recs("d", "40", "c", "-"), 30, w); err != nil {
		t.Fatal(err)
	}
	s, res = loadState(t, p)
	wantState(t, res, 30, map[string]string{"a": "10", "d": "40"})
	slices.Sort(s.obsolete)
	if want := []string{"c@1", "deleted/0@4"}; !slices.Equal(s.obsolete, want) {
		t.Fatalf("obsolete records after the next commit %v, want %v", s.obsolete, want)
	}
}

// A checkpoint larger than one produce request goes out in several, whose
// keys and values are held in buffers and readers the next request reuses:
// every record must arrive as it was given.
func TestStateLogWritesCheckpointsOfManyRequests(t *testing.T) {
	p, w := stateFixture(t)
	s, _ := loadState(t, p)
	want := map[string]string{}
	var kv []string
	for i := range 3 * maxRequestBytes / 1000 {
		k, v := fmt.Sprintf("m/%d", i), fmt.Sprintf("%04d%s", i, strings.Repeat("v", 996))
		want[k] = v
		kv = append(kv, k, v)
	}
	if err := s.save(context.Background(), recs(kv...), 10, w); err != nil {
		t.Fatal(err)
	}
	_, res := loadState(t, p)
	if len(res.state) != len(want) || res.next != 10 {
		t.Fatalf("restored %d keys up to %d, want %d up to 10", len(res.state), res.next, len(want))
	}
	for k, v := range want {
		if got := string(res.state[k]); got != v {
			t.Fatalf("%s restored as %.20q…, want %.20q…", k, got, v)
		}
	}
}

// Deleting keys writes one list of them, not a record per key: in a storm
// every alert is evicted in the end, and each record is one more for the
// broker's log cleaner. The values are tombstoned by the next checkpoint,
// the list after them.
func TestStateLogDeletesKeysInOneList(t *testing.T) {
	p, w := stateFixture(t)
	ctx := context.Background()
	s, _ := loadState(t, p)
	const n = 3000
	var kv, gone []string
	for i := range n - 2 {
		kv = append(kv, fmt.Sprintf("a/%d", i), "x")
		gone = append(gone, fmt.Sprintf("a/%d", i), "-")
	}
	// Keys a list must quote to tell them from its other lines.
	for _, k := range []string{"two\nlines", `"quoted"`} {
		kv = append(kv, k, "x")
		gone = append(gone, k, "-")
	}
	end := func() int64 {
		_, last, err := p.stateOffsets(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return last
	}
	if err := s.save(ctx, recs(append(kv, "h", "1")...), 10, w); err != nil {
		t.Fatal(err)
	}
	before := end()
	if err := s.save(ctx, recs(gone...), 20, w); err != nil {
		t.Fatal(err)
	}
	if wrote := end() - before; wrote > 3 {
		t.Fatalf("deleting %d keys wrote %d records, want a list and a commit", n, wrote)
	}
	s, res := loadState(t, p)
	wantState(t, res, 20, map[string]string{"h": "1"})
	if len(s.obsolete) != n+1 || s.obsolete[n] != "deleted/0@2" {
		t.Fatalf("%d obsolete records ending %q, want the %d values, then the list", len(s.obsolete), s.obsolete[len(s.obsolete)-1], n)
	}
	before = end()
	if err := s.save(ctx, recs(), 30, w); err != nil {
		t.Fatal(err)
	}
	if wrote := end() - before; wrote != n+2 {
		t.Fatalf("the next checkpoint wrote %d records, want %d tombstones and a commit", wrote, n+2)
	}
	s, res = loadState(t, p)
	wantState(t, res, 30, map[string]string{"h": "1"})
	if len(s.obsolete) != 0 {
		t.Fatalf("obsolete after the tombstones: %v", s.obsolete)
	}
}

// Lag counts what a group has not committed, over every partition.
func TestLag(t *testing.T) {
	brokers, log := broker(t)
	data, _ := topics(t, brokers, log, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: data, Transport: newTransport([]string{data}), Balancer: partitionBalancer{}, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafkago.Message
	for i := range 15 {
		msgs = append(msgs, kafkago.Message{Key: []byte(map[bool]string{true: "0/x", false: "1/x"}[i < 10]), Value: []byte("v")})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	c := Consumption{Group: unique(t, "group"), Topic: data}
	if o, err := Measure(ctx, lagClient(brokers, []string{data}), c); err != nil || o.Lag() != 15 {
		t.Fatalf("lag of a group that committed nothing: %d, %v; want 15", o.Lag(), err)
	}
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...)}
	_, err := client.OffsetCommit(ctx, &kafkago.OffsetCommitRequest{GroupID: c.Group, GenerationID: -1,
		Topics: map[string][]kafkago.OffsetCommit{data: {{Partition: 0, Offset: 4}, {Partition: 1, Offset: 5}}}})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := Measure(ctx, lagClient(brokers, []string{data}), c); err != nil || o.Lag() != 6 || o.Committed[0] != 4 || o.End[0] != 10 {
		t.Fatalf("after commits at 4 of 10 and 5 of 5: %+v, %v; want a lag of 6", o, err)
	}
}

func TestCatchUp(t *testing.T) {
	t0 := time.Now()
	at := func(s int, committed, end int64) Offsets {
		return Offsets{At: t0.Add(time.Duration(s) * time.Second), Committed: map[int]int64{0: committed, 1: 50}, End: map[int]int64{0: end, 1: 50}}
	}
	for _, c := range []struct {
		name      string
		then, now Offsets
		want      time.Duration
		ok        bool
	}{
		{"100 records in 10 s, 1000 behind", at(0, 100, 500), at(10, 200, 1200), 100 * time.Second, true},
		{"caught up", at(0, 100, 500), at(20, 900, 900), 0, true},
		{"behind and not moving", at(0, 100, 500), at(20, 100, 900), Stalled, true},
		{"too short to tell a pace", at(0, 100, 500), at(5, 200, 1200), 0, false},
	} {
		if got, ok := c.now.CatchUp(c.then); got != c.want || ok != c.ok {
			t.Errorf("%s: catch-up %s, %v; want %s, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestCatchUpFollowsASlowdown(t *testing.T) {
	t0 := time.Now()
	at := func(s int, committed, end int64) Offsets {
		return Offsets{At: t0.Add(time.Duration(s) * time.Second), Committed: map[int]int64{0: committed}, End: map[int]int64{0: end}}
	}
	// 1,000 records a second for 20 s, then 250 a second: 5,000 behind.
	h := []Offsets{at(0, 0, 1000), at(10, 10000, 12000), at(20, 20000, 24000), at(25, 21250, 26000), at(30, 22500, 27500)}
	if d, ok := catchUp(h); d != 20*time.Second || !ok {
		t.Errorf("catch-up %s, %v; want 20s at the last 10 s's pace (the 30 s pace, 750/s, says 6.7s)", d, ok)
	}
	// The other way round the 30 s pace is the slower.
	h = []Offsets{at(0, 0, 1000), at(10, 2500, 12000), at(20, 5000, 24000), at(30, 15000, 25000)}
	if d, ok := catchUp(h); d != 20*time.Second || !ok {
		t.Errorf("catch-up %s, %v; want 20s at the 30 s pace", d, ok)
	}
	if _, ok := catchUp(h[:1]); ok {
		t.Error("one sample gave a pace")
	}
}

// slowPartition is a Partition whose second checkpoint is still being
// encoded when the partition stops: it waits for release.
type slowPartition struct {
	changes  int
	inFlight chan struct{}
	release  chan struct{}
}

func (s *slowPartition) Handle(context.Context, []Event) error { return nil }
func (s *slowPartition) Flush() error                          { return nil }
func (s *slowPartition) Close()                                {}
func (s *slowPartition) Changes() (StateChanges, error) {
	s.changes++
	n := s.changes
	return func(yield func(StateRecord) error) error {
		if n == 2 {
			close(s.inFlight)
			<-s.release
		}
		return yield(StateRecord{Key: fmt.Sprintf("checkpoint-%d", n), Value: []byte("saved")})
	}, nil
}

// A checkpoint in flight when the process stops is finished and the
// partition released with its state saved, so that the next owner resumes
// there instead of replaying since the checkpoint before.
func TestStopFinishesTheCheckpointInFlight(t *testing.T) {
	brokers, _ := broker(t)
	var logs testenv.Output
	log := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), &logs), nil))
	names := NamesFor(unique(t, "q"))
	setup, cancelSetup := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelSetup()
	if err := EnsureTopics(setup, brokers, Topics(names, 1, 1), log); err != nil {
		t.Fatal(err)
	}
	p, err := NewPartitioned(PartitionedConfig{Brokers: brokers, Names: names, GroupID: unique(t, "group"), Logger: log,
		TickEvery: 20 * time.Millisecond, SnapshotEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	part := &slowPartition{inFlight: make(chan struct{}), release: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(context.Context, int, map[string][]byte) (Partition, error) { return part, nil })
	}()
	select {
	case <-part.inFlight:
	case <-time.After(30 * time.Second):
		t.Fatal("no second checkpoint started")
	}
	stop()
	time.Sleep(200 * time.Millisecond) // the stop reaches the partition first
	close(part.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
	if out := logs.String(); !strings.Contains(out, "partition released") || strings.Contains(out, "failed") {
		t.Fatalf("the stop did not save the partition's state:\n%s", out)
	}
	if _, res := loadState(t, p); string(res.state["checkpoint-2"]) != "saved" {
		t.Fatalf("after the stop the state topic holds %v: want the checkpoint that was in flight", slices.Sorted(maps.Keys(res.state)))
	}
}
