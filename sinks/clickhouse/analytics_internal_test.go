package clickhouse

import (
	"context"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// TestRunbookCoverage counts, per service, the distinct alerts and those
// that carried a runbook_url, on rows written by the sink.
func TestRunbookCoverage(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
	var b sinks.Batch
	fp := quell.Fingerprint(0)
	add := func(svc string, runbook bool, occurrences int) {
		fp++
		for i := range occurrences {
			d := decision("HighLatency", svc, quell.Firing, quell.ActionJoined, time.Duration(len(b.Decisions)+i)*time.Second)
			d.Alert.Fingerprint = fp
			if runbook {
				d.Alert.Annotations["runbook_url"] = "https://runbooks.example.com/HighLatency"
			}
			b.Decisions = append(b.Decisions, d)
		}
	}
	add("checkout", true, 3) // repeats count once
	add("checkout", true, 1)
	add("cart", true, 1)
	add("cart", false, 2)
	add("search", false, 1)
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tab, err := NewAnalytics(conn).Run(ctx, Query{Type: RunbookCoverage, From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	services, alerts, with, coverage := tab.Values[0].([]string), tab.Values[1].([]uint64), tab.Values[2].([]uint64), tab.Values[3].([]float64)
	want := []struct {
		service     string
		alerts, run uint64
		coverage    float64
	}{{"cart", 2, 1, 0.5}, {"checkout", 2, 2, 1}, {"search", 1, 0, 0}}
	if tab.Rows != len(want) {
		t.Fatalf("%d rows, want %d: %v %v %v", tab.Rows, len(want), services, alerts, with)
	}
	for i, w := range want {
		if services[i] != w.service || alerts[i] != w.alerts || with[i] != w.run || coverage[i] != w.coverage {
			t.Errorf("row %d: %s %d alerts, %d with a runbook, coverage %v; want %+v", i, services[i], alerts[i], with[i], coverage[i], w)
		}
	}
}
