package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quellhq/quell"
)

// BenchmarkPublish measures the Publisher against the real broker with
// ingest's unit of work: one Publish of 100 alerts (about 700 bytes each as
// JSON) over 40 scopes into a 6-partition topic. "serial" is one request at a
// time, so each call pays the linger; "parallel" is 16 concurrent requests
// sharing produce requests.
//
//	QUELL_TEST_KAFKA=127.0.0.1:9092 go test -run '^$' -bench Publish -benchtime 3s ./internal/kafka/
func BenchmarkPublish(b *testing.B) {
	brokers, _ := broker(b)
	log := slog.New(slog.DiscardHandler)
	const batch = 100
	alerts := make([]quell.Alert, batch)
	for i := range alerts {
		alerts[i] = testAlert(fmt.Sprintf("service-%d", i%40), i)
	}
	for _, mode := range []struct {
		name        string
		parallelism int
	}{{"serial", 0}, {"parallel", 8}} {
		b.Run(mode.name, func(b *testing.B) {
			topic, _ := topics(b, brokers, log, 6)
			pub := publisher(b, brokers, log, topic)
			// Warm up: metadata and connections are not what is measured.
			if err := pub.Publish(context.Background(), alerts); err != nil {
				b.Fatal(err)
			}
			var failed atomic.Int64
			b.ResetTimer()
			if mode.parallelism == 0 {
				for b.Loop() {
					if err := pub.Publish(context.Background(), alerts); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(mode.parallelism) // × GOMAXPROCS goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := pub.Publish(context.Background(), alerts); err != nil {
							failed.Add(1)
						}
					}
				})
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d publishes failed", n)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkLoadState measures what a correlator taking a partition over
// reads first: its state, here 300,000 keys of 500 bytes written in 30
// checkpoints (an op is one load).
//
//	QUELL_TEST_KAFKA=127.0.0.1:9092 go test -run '^$' -bench LoadState -benchtime 3x ./internal/kafka/
func BenchmarkLoadState(b *testing.B) {
	p, w := stateFixture(b)
	s, _ := loadState(b, p)
	val := strings.Repeat("x", 500)
	n := 0
	for c := range 30 {
		var kv []string
		for range 10000 {
			kv = append(kv, fmt.Sprintf("m/%d/%d", n%1000, n), val)
			n++
		}
		if err := s.save(context.Background(), recs(kv...), int64(10*(c+1)), w); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, res := loadState(b, p); len(res.state) != n {
			b.Fatalf("loaded %d keys, want %d", len(res.state), n)
		}
	}
}
