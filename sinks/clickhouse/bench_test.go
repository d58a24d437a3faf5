package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// BenchmarkInsert measures decision rows inserted per second into the real
// server, in batches of 10,000:
//
//	QUELL_TEST_CLICKHOUSE=clickhouse://127.0.0.1:9000/default \
//	  go test -run '^$' -bench Insert -benchtime 20x ./sinks/clickhouse/
//
// "decisions" writes only the decision log; "WriteDecisions" is the whole
// call (alerts with labels and payload, decisions, state changes).
func BenchmarkInsert(b *testing.B) {
	const batch = 10_000
	conn := testDB(b)
	w := testWriter(b, conn)
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		write func(ds []quell.Decision) error
	}{
		{"decisions", func(ds []quell.Decision) error { return w.write(ctx, decisionInserts(ds, true)[1]) }},
		{"WriteDecisions", func(ds []quell.Decision) error { return w.WriteDecisions(ctx, ds) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ds := benchDecisions(batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Fresh receive times: each batch is new data, not a redelivery.
				for j := range ds {
					ds[j].Alert.ReceivedAt = ds[j].Alert.ReceivedAt.Add(time.Hour)
				}
				if err := bc.write(ds); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// benchDecisions makes n decisions shaped like Alertmanager's: a handful of
// labels, an annotation, a payload of a few hundred bytes.
func benchDecisions(n int) []quell.Decision {
	actions := []quell.Action{quell.ActionCreated, quell.ActionDeduplicated, quell.ActionDeduplicated, quell.ActionJoined, quell.ActionResolved}
	ds := make([]quell.Decision, n)
	for i := range ds {
		svc := fmt.Sprintf("svc-%d", i%50)
		d := decision(fmt.Sprintf("Alert%d", i%200), svc, quell.Firing, actions[i%len(actions)], time.Duration(i)*time.Millisecond)
		d.Alert.Labels["namespace"] = "prod"
		d.Alert.Labels["pod"] = fmt.Sprintf("%s-%d", svc, i%7)
		d.Alert.Fingerprint = quell.Fingerprint(i * 7919)
		d.Alert.Raw = []byte(fmt.Sprintf(`{"labels":{"alertname":"Alert%d","service":"%s","namespace":"prod"},"annotations":{"summary":"latency above 500ms for 5m"},"startsAt":"2024-03-05T10:15:30Z","generatorURL":"http://prometheus:9090/graph?g0.expr=histogram_quantile"}`, i%200, svc))
		d.Incident = fmt.Sprintf("inc-%d", i%300)
		ds[i] = d
	}
	return ds
}
