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
	store(t, s, b)
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

// TestRecurringIncidents: an incident recurs when one of its kind (the
// same alert names about the same kinds of entity) was created in the 30
// days before it, whatever the alerts' other labels.
func TestRecurringIncidents(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
	var b sinks.Batch
	day := 24 * time.Hour
	fp := quell.Fingerprint(0)
	// incident opens id on service at t0+at, with an alert of each name
	// about that service's pod.
	incident := func(id, service string, at time.Duration, names ...string) {
		inc := quell.Incident{ID: id, Status: quell.IncidentOpen, Title: id, Severity: quell.Warning, CreatedAt: t0.Add(at), UpdatedAt: t0.Add(at)}
		for i, name := range names {
			fp++
			d := decision(name, service, quell.Firing, quell.ActionJoined, at)
			d.Alert.Fingerprint, d.Alert.Labels["pod"], d.Incident = fp, service+"-"+id, id
			d.Alert.StartsAt, d.At = t0.Add(at), t0.Add(at)
			if i == 0 {
				d.Action = quell.ActionCreated
			}
			b.Decisions = append(b.Decisions, d)
			inc.Alerts = append(inc.Alerts, quell.IncidentAlert{Fingerprint: fp, Source: "alertmanager", Status: quell.Firing, Labels: d.Alert.Labels})
		}
		b.Changes = append(b.Changes, quell.IncidentChange{Kind: quell.IncidentCreated, Incident: inc, Seq: 1, At: inc.CreatedAt})
	}
	incident("a", "checkout", 0, "HighLatency", "HighErrorRate")
	incident("b", "checkout", day, "HighErrorRate", "HighLatency") // a's kind a day later: recurs
	incident("c", "db", day, "DiskFull")
	incident("d", "checkout", 40*day, "HighLatency", "HighErrorRate") // b was 39 days before: does not
	incident("e", "db", 41*day, "DiskFull", "HighLatency")            // another kind
	store(t, s, b)
	tab, err := NewAnalytics(conn).Run(ctx, Query{Type: RecurringIncidents, From: t0.Add(-time.Hour), To: t0.Add(50 * day), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	services, incidents, recurring, rate := tab.Values[0].([]string), tab.Values[1].([]uint64), tab.Values[2].([]uint64), tab.Values[3].([]float64)
	want := []struct {
		service              string
		incidents, recurring uint64
		rate                 float64
	}{{"checkout", 3, 1, 1.0 / 3}, {"db", 2, 0, 0}}
	if tab.Rows != len(want) {
		t.Fatalf("%d rows, want %d: %v %v %v", tab.Rows, len(want), services, incidents, recurring)
	}
	for i, w := range want {
		if services[i] != w.service || incidents[i] != w.incidents || recurring[i] != w.recurring || rate[i] != w.rate {
			t.Errorf("row %d: %s %d incidents, %d recurring, rate %v; want %+v", i, services[i], incidents[i], recurring[i], rate[i], w)
		}
	}
	// A span that starts after a: b still recurs, as a lies in the 30 days before it.
	tab, err = NewAnalytics(conn).Run(ctx, Query{Type: RecurringIncidents, From: t0.Add(day - time.Hour), To: t0.Add(2 * day), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows == 0 || tab.Values[0].([]string)[0] != "checkout" || tab.Values[2].([]uint64)[0] != 1 {
		t.Errorf("the day of b: %v %v, want checkout with 1 recurring", tab.Values[0], tab.Values[2])
	}
}

// TestFeedbackRows: people's feedback is stored as decisions naming the
// actor, never as alert occurrences, and as itsm_events of system quell,
// so MTTA counts an acknowledgement given in quell itself.
func TestFeedbackRows(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
	var b sinks.Batch
	inc := quell.Incident{ID: "fb-1", Status: quell.IncidentOpen, Title: "HighLatency", Severity: quell.Warning, CreatedAt: t0, UpdatedAt: t0}
	for i, name := range []string{"HighLatency", "HighErrorRate"} {
		d := decision(name, "checkout", quell.Firing, quell.ActionJoined, 0)
		d.Incident, d.At = inc.ID, t0
		if i == 0 {
			d.Action = quell.ActionCreated
		}
		b.Decisions = append(b.Decisions, d)
		inc.Alerts = append(inc.Alerts, quell.IncidentAlert{Fingerprint: d.Alert.Fingerprint, Source: "alertmanager", Status: quell.Firing, Labels: d.Alert.Labels})
	}
	b.Changes = append(b.Changes, quell.IncidentChange{Kind: quell.IncidentCreated, Incident: inc, Seq: 1, At: t0})
	acked := t0.Add(2 * time.Minute)
	b.Decisions = append(b.Decisions, quell.Decision{Incident: inc.ID, Action: quell.ActionAcknowledged, Reason: "acknowledged by alice", At: acked, Actor: "alice"})
	for _, name := range []string{"DiskFull", "DiskLatency"} {
		d := decision(name, "db", quell.Firing, quell.ActionMerged, 0)
		d.Incident, d.At, d.Actor, d.Alert.ReceivedAt = inc.ID, t0.Add(3*time.Minute), "bob", time.Time{}
		b.Decisions = append(b.Decisions, d)
	}
	store(t, s, b)
	if n := count(t, conn, "SELECT count() FROM alerts FINAL"); n != 2 {
		t.Errorf("%d alert occurrences stored, want the 2 that were sent", n)
	}
	if n := count(t, conn, "SELECT count() FROM decisions FINAL WHERE actor = 'bob' AND action = 'merged' AND service = 'db' AND decided_at = toDateTime('2024-03-05 10:18:30', 'UTC')"); n != 2 {
		t.Errorf("%d merged decisions by bob at their time, want 2", n)
	}
	if n := count(t, conn, "SELECT count() FROM decisions FINAL WHERE actor = ''"); n != 2 {
		t.Errorf("%d decisions without an actor, want the correlator's 2", n)
	}
	if n := count(t, conn, "SELECT count() FROM itsm_events FINAL WHERE system = 'quell' AND incident_id = 'fb-1'"); n != 2 {
		t.Errorf("%d itsm_events of quell for the incident, want 2 (acknowledged, merged)", n)
	}
	tab, err := NewAnalytics(conn).Run(ctx, Query{Type: ServiceResponse, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows != 1 || tab.Values[5].([]*float64)[0] == nil || *tab.Values[5].([]*float64)[0] != 120 {
		t.Errorf("MTTA: %d rows, %v; want checkout acknowledged after 120 s", tab.Rows, tab.Values[5])
	}
}

// TestEvictedIncidentsHaveNoMTTR: an incident the memory bound evicted is
// stored as evicted, not resolved: MTTR counts only the one whose alerts
// resolved.
func TestEvictedIncidentsHaveNoMTTR(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
	var b sinks.Batch
	for i, id := range []string{"resolves", "evicted"} {
		d := decision("HighLatency"+id, "checkout", quell.Firing, quell.ActionCreated, 0)
		d.Incident, d.At = id, t0
		b.Decisions = append(b.Decisions, d)
		inc := quell.Incident{ID: id, Status: quell.IncidentOpen, Title: d.Alert.Labels["alertname"], Severity: quell.Warning, CreatedAt: t0, UpdatedAt: t0,
			Alerts: []quell.IncidentAlert{{Fingerprint: d.Alert.Fingerprint, Source: "alertmanager", Status: quell.Firing, Labels: d.Alert.Labels}}}
		b.Changes = append(b.Changes, quell.IncidentChange{Kind: quell.IncidentCreated, Incident: inc, Seq: 1, At: t0})
		end := inc
		end.Status, end.ResolvedAt, end.UpdatedAt = quell.IncidentResolved, t0.Add(10*time.Minute), t0.Add(10*time.Minute)
		kind := quell.IncidentResolve
		if i == 1 {
			kind, end.Evicted, end.ResolvedAt, end.UpdatedAt = quell.IncidentEvicted, true, t0.Add(time.Minute), t0.Add(time.Minute)
		}
		b.Changes = append(b.Changes, quell.IncidentChange{Kind: kind, Incident: end, Seq: 2, At: end.ResolvedAt})
	}
	store(t, s, b)
	if n := count(t, conn, "SELECT count() FROM incidents FINAL WHERE incident_id = 'evicted' AND status = 'evicted'"); n != 1 {
		t.Errorf("the evicted incident stored as evicted: %d rows, want 1", n)
	}
	tab, err := NewAnalytics(conn).Run(ctx, Query{Type: ServiceResponse, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	incidents, resolved, mttr := tab.Values[1].([]uint64), tab.Values[2].([]uint64), tab.Values[3].([]*float64)
	if tab.Rows != 1 || incidents[0] != 2 || resolved[0] != 1 || mttr[0] == nil || *mttr[0] != 600 {
		t.Errorf("service response: %d rows, incidents %v, resolved %v, MTTR %v; want checkout with 2 incidents, 1 resolved, MTTR 600 s",
			tab.Rows, incidents, resolved, mttr)
	}
}
