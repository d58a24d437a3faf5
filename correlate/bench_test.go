package correlate

import (
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/bench/cputime"
)

// BenchmarkProcess measures dedupe and correlation as replay runs them:
// alerts pre-parsed and fingerprinted, decisions collected, nothing encoded.
func BenchmarkProcess(b *testing.B) {
	occs := stream(3, 100000)
	alerts := make([]quell.Alert, len(occs))
	ats := make([]time.Time, len(occs))
	for i, o := range occs {
		alerts[i] = alert(o)
		ats[i] = t0.Add(o.at)
	}
	topo := topoForTests(b)
	b.ResetTimer()
	cpu := cputime.Now()
	n := 0
	for b.Loop() {
		decided := 0
		eng, err := New(DefaultConfig(), topo, Output{Decision: func(quell.Decision) { decided++ }})
		if err != nil {
			b.Fatal(err)
		}
		for i := range alerts {
			eng.Process(&alerts[i], ats[i])
		}
		eng.Flush()
		n += len(alerts)
		if decided != len(alerts) {
			b.Fatalf("%d decisions for %d alerts", decided, len(alerts))
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(n)/(cputime.Now()-cpu).Seconds(), "alerts/cpu-s")
}
