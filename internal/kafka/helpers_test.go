package kafka

import (
	"context"
	"fmt"
	"hash/crc32"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
)

// broker returns the real broker's address and a logger for t.
func broker(t testing.TB) ([]string, *slog.Logger) {
	addr := testenv.Kafka(t)
	return []string{addr}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// unique returns a topic or group name no earlier run used, so tests are
// independent and rerunnable against one long-lived broker.
func unique(t testing.TB, what string) string {
	return fmt.Sprintf("test.%s.%s.%d", unsafeName.ReplaceAllString(t.Name(), "_"), what, time.Now().UnixNano())
}

// topics creates a data topic with the given partitions and a dead-letter
// topic for t.
func topics(t testing.TB, brokers []string, log *slog.Logger, partitions int) (data, dead string) {
	data, dead = unique(t, "data"), unique(t, "dead")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := EnsureTopics(ctx, brokers, []TopicSpec{
		{Name: data, Partitions: partitions, ReplicationFactor: 1},
		{Name: dead, Partitions: 1, ReplicationFactor: 1},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	return data, dead
}

// testAlert is alert i of a scope, with a label counting its place in the
// scope so order can be checked.
func testAlert(scope string, i int) quell.Alert {
	start := time.Date(2025, 3, 1, 12, 0, i, 0, time.UTC)
	return quell.Alert{
		Source: "alertmanager",
		Status: quell.Firing,
		Labels: map[string]string{
			"alertname": "HighLatency", "service": scope, "seq": strconv.Itoa(i),
			"instance": "10.0.0." + strconv.Itoa(i%250) + ":9100", "job": "node", "env": "prod",
		},
		Annotations:  map[string]string{"summary": "p99 latency above 500ms", "runbook": "https://runbooks.example/latency"},
		StartsAt:     start,
		Severity:     quell.Warning,
		Fingerprint:  quell.Fingerprint(uint64(crc32.ChecksumIEEE([]byte(scope)))<<32 | uint64(i)),
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=latency",
		ReceivedAt:   start.Add(time.Second),
		Raw:          []byte(`{"labels":{"alertname":"HighLatency","service":"` + scope + `"},"status":"firing"}`),
	}
}

func scopeKey(a *quell.Alert) []byte { return []byte(a.Labels["service"]) }

// publisher publishes alerts to topic, keyed by scopeKey, until the test ends.
func publisher(t testing.TB, brokers []string, log *slog.Logger, topic string) *Producer[quell.Alert] {
	t.Helper()
	pub, err := NewAlertPublisher(ProducerConfig{Brokers: brokers, Topic: topic, Logger: log}, scopeKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub
}

// subscription runs a subscriber in the background and hands its batches
// to the test.
type subscription struct {
	batches chan []quell.Alert
	done    chan struct{} // closed when Subscribe returned err
	err     error
	cancel  context.CancelFunc
}

// subscribe starts s; handle decides each batch's fate (nil: accept).
func subscribe(t testing.TB, s *AlertSubscriber, handle func([]quell.Alert) error) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	sub := &subscription{batches: make(chan []quell.Alert, 100), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(sub.done)
		sub.err = s.Subscribe(ctx, func(ctx context.Context, batch []quell.Alert) error {
			select {
			case sub.batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			if handle == nil {
				return nil
			}
			return handle(batch)
		})
	}()
	t.Cleanup(func() { sub.stop(t) })
	return sub
}

// collect waits for n alerts.
func (s *subscription) collect(t testing.TB, n int) []quell.Alert {
	t.Helper()
	var got []quell.Alert
	timeout := time.After(60 * time.Second)
	for len(got) < n {
		select {
		case b := <-s.batches:
			got = append(got, b...)
		case <-s.done:
			t.Fatalf("subscriber stopped after %d of %d alerts: %v", len(got), n, s.err)
		case <-timeout:
			t.Fatalf("received %d of %d alerts within 60s", len(got), n)
		}
	}
	return got
}

// stop ends the subscription and returns what Subscribe returned.
func (s *subscription) stop(t testing.TB) error {
	s.cancel()
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		t.Fatal("subscriber did not return within 30s of its context ending")
		return nil
	}
}

// receivedAsSent reads topic as a new consumer group until it has as many
// alerts as were sent, checks that each sent alert arrived once and
// unchanged, and returns them in the order received.
func receivedAsSent(t *testing.T, brokers []string, log *slog.Logger, topic, dead string, sent []quell.Alert) []quell.Alert {
	t.Helper()
	sub, err := NewAlertSubscriber(ConsumerConfig{Brokers: brokers, Topic: topic, GroupID: unique(t, "group"), DeadLetterTopic: dead, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	got := subscribe(t, sub, nil).collect(t, len(sent))
	want := map[quell.Fingerprint]quell.Alert{}
	for _, a := range sent {
		want[a.Fingerprint] = a
	}
	for _, a := range got {
		w, ok := want[a.Fingerprint]
		if !ok {
			t.Errorf("received an alert that was not sent or was received twice: %s %v", a.Fingerprint, a.Labels)
			continue
		}
		delete(want, a.Fingerprint)
		if !reflect.DeepEqual(a, w) {
			// Descriptions may be hundreds of kilobytes: their sizes and starts.
			t.Errorf("alert %s changed on the way: labels %v, description %.40q... (%d bytes), want %v, %.40q... (%d bytes)", a.Fingerprint,
				a.Labels, a.Annotations["description"], len(a.Annotations["description"]), w.Labels, w.Annotations["description"], len(w.Annotations["description"]))
		}
	}
	return got
}

// rawWriter writes records as they are, for poison and for checks.
func rawWriter(t testing.TB, brokers []string, topic string) *kafkago.Writer {
	w := &kafkago.Writer{Addr: kafkago.TCP(brokers...), Topic: topic, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	t.Cleanup(func() { w.Close() })
	return w
}

// readAll reads n records of a one-partition topic from its start.
func readAll(t testing.TB, brokers []string, topic string, n int) []kafkago.Message {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: time.Second})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []kafkago.Message
	for len(got) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s: read %d of %d records: %v", topic, len(got), n, err)
		}
		got = append(got, m)
	}
	return got
}
