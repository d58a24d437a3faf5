package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

// TestLeanRepeats: by default a repeat is counted, not stored. 10 alerts
// that fire once and repeat 99 times each (1,000 occurrences), written
// twice as a redelivery would, leave 20 rows in alerts and decisions
// together, while the noise analytics and alert_repeats count every
// occurrence exactly once; with store_repeats the rows are all there and
// the counts are the same.
func TestLeanRepeats(t *testing.T) {
	at := time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC)
	var ds []quell.Decision
	for i := range 10 {
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Severity: quell.Warning, StartsAt: at,
			Labels:      map[string]string{"alertname": fmt.Sprintf("Noisy%d", i), "service": "api"},
			Fingerprint: quell.Fingerprint(i + 1), Raw: []byte(`{"labels":{}}`)}
		for r := range 100 {
			a.ReceivedAt = at.Add(time.Duration(r) * 30 * time.Second)
			action := quell.ActionDeduplicated
			if r == 0 {
				action = quell.ActionCreated
			}
			ds = append(ds, quell.Decision{Alert: a, Incident: fmt.Sprintf("inc-%d", i), Action: action, Reason: "a test", At: a.ReceivedAt})
		}
	}
	q := func(qt clickhouse.QueryType) clickhouse.Query {
		return clickhouse.Query{Type: qt, From: at.Add(-time.Hour), To: at.Add(3 * time.Hour), Interval: 24 * time.Hour, Limit: 100}
	}
	for _, storeRepeats := range []bool{false, true} {
		t.Run(fmt.Sprintf("store_repeats=%v", storeRepeats), func(t *testing.T) {
			conn, _ := chtest.DB(t)
			ctx := context.Background()
			w := clickhouse.NewWriter(conn, nil, clickhouse.Backoff{})
			if storeRepeats {
				w.StoreRepeats()
			}
			for range 2 { // a redelivered batch
				if err := w.WriteDecisions(ctx, ds); err != nil {
					t.Fatal(err)
				}
			}
			var rows uint64
			for _, table := range []string{"alerts", "decisions"} {
				var n uint64
				if err := conn.QueryRow(ctx, "SELECT uniqExact(event_id) FROM "+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				rows += n
			}
			if want := map[bool]uint64{false: 20, true: 2000}[storeRepeats]; rows != want {
				t.Errorf("%d distinct rows in alerts and decisions, want %d", rows, want)
			}

			a := clickhouse.NewAnalytics(conn)
			noisy, err := a.Run(ctx, q(clickhouse.NoisyAlerts))
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range noisy.Values[2].([]uint64) {
				if n != 100 {
					t.Errorf("noisyAlerts: %s fired %d times, want 100", noisy.Values[0].([]string)[i], n)
				}
			}
			if noisy.Rows != 10 {
				t.Errorf("noisyAlerts: %d alerts, want 10", noisy.Rows)
			}
			if got := total(t, a, q(clickhouse.CompressionBySource), 1); got != 1000 {
				t.Errorf("compressionBySource: %d alerts, want 1000", got)
			}
			over, err := a.Run(ctx, q(clickhouse.DecisionsOverTime))
			if err != nil {
				t.Fatal(err)
			}
			byAction := map[string]uint64{}
			for i, act := range over.Values[1].([]string) {
				byAction[act] += over.Values[2].([]uint64)[i]
			}
			if byAction["deduplicated"] != 990 || byAction["created"] != 10 {
				t.Errorf("decisionsOverTime: %v, want 990 deduplicated and 10 created", byAction)
			}
			var perAlert uint64
			if err := conn.QueryRow(ctx, "SELECT uniqExactMerge(occurrences) FROM alert_repeats WHERE fingerprint = toFixedString('0000000000000003', 16)").Scan(&perAlert); err != nil {
				t.Fatal(err)
			}
			if perAlert != 99 {
				t.Errorf("alert_repeats: %d repeats of one alert, want 99", perAlert)
			}
		})
	}
}
