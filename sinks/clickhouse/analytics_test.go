package clickhouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

// TestAnalyticsMicroSS runs every analytic on the replayed MicroSS stream
// and checks each answers rows of its declared shape with sane values.
func TestAnalyticsMicroSS(t *testing.T) {
	conn, _ := chtest.DB(t)
	from, to := chtest.FillMicroSS(t, conn)
	b, _ := chtest.MicroSS()
	var firing, created uint64
	for _, d := range b.Decisions {
		if d.Alert.Status == quell.Firing {
			firing++
		}
		if d.Action == quell.ActionCreated {
			created++
		}
	}
	a := clickhouse.NewAnalytics(conn)
	ctx := context.Background()
	for _, qt := range clickhouse.QueryTypes() {
		t.Run(string(qt), func(t *testing.T) {
			tab, err := a.Run(ctx, clickhouse.Query{Type: qt, From: from, To: to, Interval: 6 * time.Hour, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := qt.Columns()
			if len(tab.Columns) != len(cols) || len(tab.Values) != len(cols) {
				t.Fatalf("%d columns, want %d", len(tab.Values), len(cols))
			}
			// MicroSS has no suppressed flaps and no ITSM state, but every
			// analytic still has rows to show.
			if tab.Rows == 0 {
				t.Fatalf("no rows")
			}
			t.Log(dump(tab, 3))
		})
	}

	// Every grouping reason the correlator writes is one the panel knows.
	gr, err := a.Run(ctx, clickhouse.Query{Type: clickhouse.GroupingReasons, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	kinds, counts := gr.Values[0].([]string), gr.Values[1].([]uint64)
	var grouped uint64
	for i, k := range kinds {
		if k == "other" {
			t.Errorf("groupingReasons: %d decisions of a reason it does not know", counts[i])
		}
		grouped += counts[i]
	}
	if len(kinds) < 3 || grouped == 0 {
		t.Errorf("groupingReasons: %v %v, want several kinds of evidence", kinds, counts)
	}
	t.Logf("grouping reasons: %v %v", kinds, counts)

	// Alerts that fire together, counted here from the decisions themselves.
	members := map[string]map[string]bool{}
	for _, d := range b.Decisions {
		if d.Action == quell.ActionCreated || d.Action == quell.ActionJoined {
			if members[d.Incident] == nil {
				members[d.Incident] = map[string]bool{}
			}
			members[d.Incident][d.Alert.Labels["alertname"]+"/"+d.Alert.Labels["service"]] = true
		}
	}
	single, pair := map[string]uint64{}, map[[2]string]uint64{}
	for _, ks := range members {
		for k := range ks {
			single[k]++
			for k2 := range ks {
				if k < k2 {
					pair[[2]string{k, k2}]++
				}
			}
		}
	}
	co, err := a.Run(ctx, clickhouse.Query{Type: clickhouse.CoOccurringAlerts, From: from, To: to, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	as, bs := co.Values[0].([]string), co.Values[1].([]string)
	together, an, bn := co.Values[2].([]uint64), co.Values[3].([]uint64), co.Values[4].([]uint64)
	for i := 0; i < co.Rows; i++ {
		k := [2]string{as[i], bs[i]}
		if together[i] != pair[k] || together[i] < 2 || an[i] != single[as[i]] || bn[i] != single[bs[i]] {
			t.Errorf("co-occurring %v: together %d, incidents %d and %d; counted from the decisions: %d, %d and %d",
				k, together[i], an[i], bn[i], pair[k], single[as[i]], single[bs[i]])
		}
	}

	tab, err := a.Run(ctx, clickhouse.Query{Type: clickhouse.CompressionBySource, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	alerts, incidents := tab.Values[1].([]uint64), tab.Values[2].([]uint64)
	if tab.Rows != 1 || alerts[0] != firing || incidents[0] != created {
		t.Errorf("compression by source: %s\nwant one source with %d alerts and %d incidents", dump(tab, 5), firing, created)
	}
}

// TestAnalyticsITSM: acknowledged incidents give MTTA, and their resolves
// no longer count as auto-resolved.
func TestAnalyticsITSM(t *testing.T) {
	conn, _ := chtest.DB(t)
	from, to := chtest.FillMicroSS(t, conn)
	b, _ := chtest.MicroSS()
	ctx := context.Background()
	a := clickhouse.NewAnalytics(conn)
	q := clickhouse.Query{Type: clickhouse.AutoResolvedAlerts, From: from, To: to, Limit: 1000}
	before := total(t, a, q, 2)

	var events []clickhouse.ITSMEvent
	for _, c := range b.Changes {
		if c.Kind == quell.IncidentCreated {
			events = append(events, clickhouse.ITSMEvent{IncidentID: c.Incident.ID, System: "servicenow", Kind: "acknowledged", Actor: "oncall", At: c.Incident.CreatedAt.Add(90 * time.Second)})
		}
	}
	w := clickhouse.NewWriter(conn, nil, clickhouse.Backoff{})
	if err := w.WriteITSMEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if after := total(t, a, q, 2); after >= before {
		t.Errorf("auto-resolved %d before acknowledging every incident, %d after; want fewer", before, after)
	}
	tab, err := a.Run(ctx, clickhouse.Query{Type: clickhouse.ServiceResponse, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	for i, mtta := range tab.Values[5].([]*float64) {
		if mtta == nil || *mtta < 89 || *mtta > 91 {
			t.Errorf("service %s: MTTA %v, want 90s", tab.Values[0].([]string)[i], deref(mtta))
		}
	}
}

func total(t *testing.T, a *clickhouse.Analytics, q clickhouse.Query, col int) uint64 {
	t.Helper()
	tab, err := a.Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, v := range tab.Values[col].([]uint64) {
		n += v
	}
	return n
}

// dump prints the first rows of a table for test logs.
func dump(tab *clickhouse.Table, rows int) string {
	var b strings.Builder
	for _, c := range tab.Columns {
		fmt.Fprintf(&b, "%s\t", c.Name)
	}
	for r := 0; r < min(rows, tab.Rows); r++ {
		b.WriteString("\n")
		for _, v := range tab.Values {
			var cell any
			switch s := v.(type) {
			case []time.Time:
				cell = s[r].Format(time.DateTime)
			case []string:
				cell = s[r]
			case []float64:
				cell = fmt.Sprintf("%.3f", s[r])
			case []uint64:
				cell = s[r]
			case []*float64:
				if s[r] == nil {
					cell = "NULL"
				} else {
					cell = fmt.Sprintf("%.1f", *s[r])
				}
			}
			fmt.Fprintf(&b, "%v\t", cell)
		}
	}
	return b.String()
}

func deref(f *float64) any {
	if f == nil {
		return "NULL"
	}
	return *f
}
