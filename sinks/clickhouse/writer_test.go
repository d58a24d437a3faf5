package clickhouse

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell"
)

func TestWriteDecisionsReadBack(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	ds := []quell.Decision{
		decision("HighLatency", "checkout", quell.Firing, quell.ActionCreated, 0),
		decision("HighLatency", "checkout", quell.Firing, quell.ActionDeduplicated, time.Minute),
		decision("HighLatency", "checkout", quell.Resolved, quell.ActionResolved, 2*time.Minute+7*time.Millisecond),
	}
	w := testWriter(t, conn)
	w.StoreRepeats() // every row's columns are read back, the repeat's too
	if err := w.WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}

	rows, err := conn.Query(ctx, `SELECT fingerprint, source, status, severity, alertname, service,
		label_keys, label_values, annotation_keys, annotation_values,
		toUInt64(event_time) * 1000 + event_time_ms, toUInt64(starts_at) * 1000 + starts_at_ms,
		toUInt64(ends_at) * 1000 + ends_at_ms, toUInt64(received_at) * 1000 + received_at_ms, raw
		FROM alerts FINAL ORDER BY received_at, received_at_ms`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var (
			fp, src, status, sev, name, svc, raw string
			lk, lv, ak, av                       []string
			evt, starts, ends, recv              uint64
		)
		if err := rows.Scan(&fp, &src, &status, &sev, &name, &svc, &lk, &lv, &ak, &av, &evt, &starts, &ends, &recv, &raw); err != nil {
			t.Fatal(err)
		}
		a := ds[i].Alert
		got := []any{fp, src, status, sev, name, svc, lk, lv, ak, av, evt, starts, ends, recv, raw}
		want := []any{a.Fingerprint.String(), "alertmanager", string(a.Status), "warning", "HighLatency", "checkout",
			[]string{"alertname", "instance", "service"}, []string{"HighLatency", "checkout-1", "checkout"},
			[]string{"summary"}, []string{"HighLatency on checkout"},
			ms(a.EventTime()), ms(a.StartsAt), ms(a.EndsAt), ms(a.ReceivedAt), string(a.Raw)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("alerts row %d:\n got %v\nwant %v", i, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(ds) {
		t.Errorf("alerts has %d rows, want %d", i, len(ds))
	}

	var actions, reasons []string
	if err := conn.QueryRow(ctx, `SELECT groupArray(action), groupArray(reason)
		FROM (SELECT action, reason FROM decisions FINAL WHERE incident_id = 'inc-1' ORDER BY event_time, event_id)`).Scan(&actions, &reasons); err != nil {
		t.Fatal(err)
	}
	// Repeats share the firing event time, so compare as sets.
	wantActions := map[string]bool{"created": true, "deduplicated": true, "resolved": true}
	for _, a := range actions {
		delete(wantActions, a)
	}
	if len(actions) != 3 || len(wantActions) != 0 || reasons[0] != "shared service checkout" {
		t.Errorf("decisions: actions %q, reasons %q; want created, deduplicated, resolved with reason %q", actions, reasons, "shared service checkout")
	}
	if n := count(t, conn, "SELECT count() FROM alert_state_changes FINAL WHERE action != 'deduplicated'"); n != 2 {
		t.Errorf("alert_state_changes: %d changes, want 2 (created and resolved; the repeat is no change)", n)
	}
	if n := count(t, conn, "SELECT count() FROM alert_state_changes"); n != 2 {
		t.Errorf("alert_state_changes: %d rows, want 2", n)
	}
}

func ms(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}

// An insert larger than a block goes in several; every row arrives whole,
// its columns from the same decision.
func TestInsertInBlocks(t *testing.T) {
	conn := testDB(t)
	n := 2*insertBlock + 5
	ds := make([]quell.Decision, n)
	for i := range ds {
		id := strconv.Itoa(i)
		ds[i] = decision("A"+id, "s"+id, quell.Firing, quell.ActionCreated, time.Duration(i)*time.Millisecond)
		ds[i].Alert.Fingerprint = quell.Fingerprint(i + 1)
		ds[i].Alert.Raw = []byte(`{"i":` + id + `}`)
		ds[i].Incident = "inc-" + id
	}
	if err := testWriter(t, conn).WriteDecisions(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	whole := `countIf(raw = concat('{"i":', substring(alertname, 2), '}') AND service = concat('s', substring(alertname, 2))
		AND has(label_values, concat('s', substring(alertname, 2), '-1')))`
	if got := count(t, conn, "SELECT "+whole+" FROM alerts"); got != uint64(n) {
		t.Errorf("alerts: %d whole rows, want %d", got, n)
	}
	if got := count(t, conn, "SELECT uniqExact(alertname) FROM alerts"); got != uint64(n) {
		t.Errorf("alerts: %d distinct rows, want %d", got, n)
	}
	if got := count(t, conn, "SELECT countIf(incident_id = concat('inc-', substring(alertname, 2))) FROM decisions"); got != uint64(n) {
		t.Errorf("decisions: %d whole rows, want %d", got, n)
	}
}

func TestRedeliveryDoesNotDoubleCount(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	w := testWriter(t, conn)
	ds := []quell.Decision{
		decision("DiskFull", "db", quell.Firing, quell.ActionCreated, 0),
		decision("DiskFull", "db", quell.Firing, quell.ActionDeduplicated, time.Minute),
		decision("CPUHigh", "api", quell.Firing, quell.ActionJoined, 0),
	}
	for delivery := 1; delivery <= 2; delivery++ {
		if err := w.WriteDecisions(ctx, ds); err != nil {
			t.Fatalf("delivery %d: %v", delivery, err)
		}
	}
	// The repeat is counted, not stored (see TestLeanRepeats): two rows each.
	for _, table := range []string{"alerts", "decisions"} {
		// Before a merge the copies are there; FINAL hides them.
		t.Logf("%s: %d rows stored, %d with FINAL", table, count(t, conn, "SELECT count() FROM "+table), count(t, conn, "SELECT count() FROM "+table+" FINAL"))
		if n := count(t, conn, "SELECT count() FROM "+table+" FINAL"); n != 2 {
			t.Errorf("%s FINAL: %d rows after two deliveries, want 2", table, n)
		}
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, conn, "SELECT count() FROM "+table); n != 2 {
			t.Errorf("%s after OPTIMIZE FINAL: %d rows, want 2", table, n)
		}
	}
	if n := count(t, conn, "SELECT toUInt64(uniqExactMerge(occurrences)) FROM alerts_hourly"); n != 3 {
		t.Errorf("alerts_hourly counts %d occurrences after two deliveries, want 3", n)
	}
	if n := count(t, conn, "SELECT toUInt64(uniqExactMerge(decisions)) FROM decisions_hourly"); n != 3 {
		t.Errorf("decisions_hourly counts %d decisions after two deliveries, want 3", n)
	}
}

func TestHourlyViews(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	var ds []quell.Decision
	// Hour 10: checkout fires 3 times (once new, twice repeated), api once.
	// Hour 11: checkout resolves. Each repeat is its own occurrence.
	for i := 0; i < 3; i++ {
		action := quell.ActionDeduplicated
		if i == 0 {
			action = quell.ActionCreated
		}
		ds = append(ds, decision("HighLatency", "checkout", quell.Firing, action, time.Duration(i)*time.Minute))
	}
	ds = append(ds, decision("CPUHigh", "api", quell.Firing, quell.ActionJoined, 0))
	ds = append(ds, decision("HighLatency", "checkout", quell.Resolved, quell.ActionResolved, time.Hour))
	if err := testWriter(t, conn).WriteDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}

	got := hourly(t, conn, `SELECT concat(toString(toHour(hour)), ' ', source, ' ', alertname, ' ', service, ' ', severity, ' ', status),
		toUInt64(uniqExactMerge(occurrences)) FROM alerts_hourly GROUP BY hour, source, alertname, service, severity, status`)
	want := map[string]uint64{
		"10 alertmanager HighLatency checkout warning firing":   3,
		"10 alertmanager CPUHigh api warning firing":            1,
		"11 alertmanager HighLatency checkout warning resolved": 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alerts_hourly:\n got %v\nwant %v", got, want)
	}

	got = hourly(t, conn, `SELECT concat(toString(toHour(hour)), ' ', action),
		toUInt64(uniqExactMerge(decisions)) FROM decisions_hourly GROUP BY hour, action`)
	want = map[string]uint64{"10 created": 1, "10 deduplicated": 2, "10 joined": 1, "11 resolved": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decisions_hourly:\n got %v\nwant %v", got, want)
	}
}

// hourly reads (key, count) rows into a map.
func hourly(t *testing.T, conn driver.Conn, query string) map[string]uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	got := map[string]uint64{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWriteIncidentChanges(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	member := func(fp quell.Fingerprint, reason string) quell.IncidentAlert {
		return quell.IncidentAlert{Fingerprint: fp, Source: "alertmanager", Status: quell.Firing, Reason: reason}
	}
	inc := quell.Incident{ID: "inc-7", Status: quell.IncidentOpen, Title: "checkout latency", Severity: quell.Warning,
		CreatedAt: t0, UpdatedAt: t0, Alerts: []quell.IncidentAlert{member(1, "first alert")}}
	c1 := quell.IncidentChange{Kind: quell.IncidentCreated, Incident: inc, Seq: 1, At: t0}
	inc.UpdatedAt = t0.Add(time.Minute)
	inc.Severity = quell.Critical
	inc.Alerts = append(inc.Alerts, member(2, "shared service checkout"))
	c2 := quell.IncidentChange{Kind: quell.IncidentUpdated, Incident: inc, Seq: 2, At: inc.UpdatedAt}
	inc.Status, inc.ResolvedAt = quell.IncidentResolved, t0.Add(time.Hour)
	inc.Alerts = []quell.IncidentAlert{member(1, "later text"), member(2, "later text")}
	c3 := quell.IncidentChange{Kind: quell.IncidentResolve, Incident: inc, Seq: 3, At: inc.ResolvedAt}

	w := testWriter(t, conn)
	// c2 comes twice, the second time after c3: a redelivery out of order.
	for _, batch := range [][]quell.IncidentChange{{c1, c2}, {c3, c2}} {
		if err := w.WriteIncidentChanges(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}

	var (
		seq                  uint64
		status, sev          string
		resolved, alertCount uint64
	)
	if err := conn.QueryRow(ctx, `SELECT seq, status, severity, toUInt64(resolved_at), toUInt64(alert_count)
		FROM incidents FINAL WHERE incident_id = 'inc-7'`).Scan(&seq, &status, &sev, &resolved, &alertCount); err != nil {
		t.Fatal(err)
	}
	if seq != 3 || status != "resolved" || sev != "critical" || resolved != uint64(c3.At.Unix()) || alertCount != 2 {
		t.Errorf("incident: seq %d %s %s resolved %d with %d alerts; want seq 3 resolved critical resolved %d with 2 alerts",
			seq, status, sev, resolved, alertCount, c3.At.Unix())
	}
	if n := count(t, conn, "SELECT count() FROM incidents FINAL"); n != 1 {
		t.Errorf("incidents FINAL: %d rows, want 1", n)
	}
	if n := count(t, conn, "SELECT count() FROM incident_changes FINAL"); n != 3 {
		t.Errorf("incident_changes FINAL: %d rows, want 3", n)
	}
	got := hourly(t, conn, `SELECT concat(fingerprint, ' ', reason), toUInt64(joined_at)
		FROM incident_members FINAL WHERE incident_id = 'inc-7'`)
	want := map[string]uint64{
		quell.Fingerprint(1).String() + " first alert":             uint64(c1.At.Unix()),
		quell.Fingerprint(2).String() + " shared service checkout": uint64(c2.At.Unix()),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("incident_members (fingerprint reason -> joined_at):\n got %v\nwant %v", got, want)
	}
}

func TestWriteDeadLetters(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	ls := []DeadLetter{{Stage: "sink.clickhouse.decisions", Reason: "column fingerprint: bad value", At: t0, Payload: []byte(`{"x":1}`)}}
	w := testWriter(t, conn)
	for i := 0; i < 2; i++ {
		if err := w.WriteDeadLetters(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	var stage, reason, payload string
	if err := conn.QueryRow(ctx, "SELECT stage, reason, payload FROM dead_letters FINAL").Scan(&stage, &reason, &payload); err != nil {
		t.Fatal(err)
	}
	if stage != ls[0].Stage || reason != ls[0].Reason || payload != string(ls[0].Payload) {
		t.Errorf("dead letter: %q %q %q, want %q %q %q", stage, reason, payload, ls[0].Stage, ls[0].Reason, ls[0].Payload)
	}
	if n := count(t, conn, "SELECT count() FROM dead_letters FINAL"); n != 1 {
		t.Errorf("dead_letters FINAL: %d rows after writing one twice, want 1", n)
	}
}

func TestUnmigratedDatabaseIsPermanent(t *testing.T) {
	conn := emptyDB(t)
	err := testWriter(t, conn).WriteDecisions(context.Background(), []quell.Decision{decision("A", "b", quell.Firing, quell.ActionCreated, 0)})
	if !IsPermanent(err) {
		t.Fatalf("writing without a schema: got %v, want a PermanentError", err)
	}
	t.Log(err)
}

// A server that does not answer is transient: retried, then reported
// without the permanent mark so the caller keeps the batch.
func TestUnreachableServerIsRetried(t *testing.T) {
	conn, err := ch.Open(&ch.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := NewWriter(conn, slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond})
	err = w.WriteDecisions(context.Background(), []quell.Decision{decision("A", "b", quell.Firing, quell.ActionCreated, 0)})
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "failed 3 times") {
		t.Fatalf("got %v, want a retryable error after 3 attempts", err)
	}
}

func TestCanceledIsNotPermanent(t *testing.T) {
	conn, err := ch.Open(&ch.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = NewWriter(conn, slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff{}).
		WriteDecisions(ctx, []quell.Decision{decision("A", "b", quell.Firing, quell.ActionCreated, 0)})
	if err == nil || IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled, not permanent", err)
	}
}
