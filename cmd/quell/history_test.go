package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestResolvedHistory: a resolved incident stays readable by id and in the
// resolved list after the correlator let it go (its reopen window over),
// and after a restart, on the embedded default; the same problem later is
// a new incident that names it as an earlier occurrence.
func TestResolvedHistory(t *testing.T) {
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), `correlate:
  group_wait: 1s
  resolve_hold: 1s
  reopen_window: 1s
`)
	p := e.start(t)
	url := "http://" + e.addr
	start := time.Now().UTC()
	a := amAlert{Labels: map[string]string{"alertname": "BackupFailed", "service": "backup"}, StartsAt: start}
	if !post(url+"/api/v2/alerts", []amAlert{a}) {
		t.Fatal("post refused")
	}
	q := &quellProc{url: url}
	incs := q.waitIncidents(t, "open", "the incident", func(incs []quell.Incident) bool { return len(incs) == 1 })
	id := incs[0].ID
	a.EndsAt = time.Now().UTC()
	if !post(url+"/api/v2/alerts", []amAlert{a}) {
		t.Fatal("post refused")
	}
	q.waitIncidents(t, "resolved", "the incident resolved", func(incs []quell.Incident) bool { return len(incs) == 1 })
	time.Sleep(3 * time.Second) // past the reopen window: the correlator lets it go
	check := func(when string) {
		t.Helper()
		var inc quell.Incident
		if err := getJSON(url+"/api/v1/incidents/"+id, &inc); err != nil || inc.ID != id || inc.Status != quell.IncidentResolved || len(inc.Alerts) != 1 {
			t.Fatalf("%s: GET /api/v1/incidents/%s: %+v (%v)", when, id, inc, err)
		}
		list, err := listIncidents(url, "resolved")
		if err != nil || len(list) != 1 || list[0].ID != id {
			t.Fatalf("%s: resolved list %+v (%v)", when, list, err)
		}
	}
	check("after the reopen window")
	p.stop(t)
	e.start(t)
	check("after a restart")

	// The same problem again: a new incident, linked to the first as
	// recurring.
	again := amAlert{Labels: a.Labels, StartsAt: time.Now().UTC()}
	if !post(url+"/api/v2/alerts", []amAlert{again}) {
		t.Fatal("post refused")
	}
	incs = q.waitIncidents(t, "open", "the incident again", func(incs []quell.Incident) bool { return len(incs) == 1 })
	rec := incs[0].Recurrence
	if incs[0].ID == id || rec == nil || rec.Seen != 1 || rec.Last != id {
		t.Fatalf("the repeated problem: incident %s, recurrence %+v; want a new incident recurring %s once", incs[0].ID, rec, id)
	}
}

// TestEvictedHistory: an open incident the correlator evicts to stay within
// its bound (here max_incidents: 1) stays readable by id, marked evicted,
// and across a restart: decisions and tickets that name it lead somewhere.
func TestEvictedHistory(t *testing.T) {
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), `correlate:
  group_wait: 1s
  max_incidents: 1
`)
	p := e.start(t)
	url := "http://" + e.addr
	q := &quellProc{url: url}
	// Two clusters are two scopes: nothing could put these in one incident.
	first := amAlert{Labels: map[string]string{"alertname": "BackupFailed", "service": "backup", "cluster": "eu"}, StartsAt: time.Now().UTC()}
	if !post(url+"/api/v2/alerts", []amAlert{first}) {
		t.Fatal("post refused")
	}
	id := q.waitIncidents(t, "open", "the first incident", func(incs []quell.Incident) bool { return len(incs) == 1 })[0].ID
	second := amAlert{Labels: map[string]string{"alertname": "DiskFull", "service": "db", "cluster": "us"}, StartsAt: time.Now().UTC()}
	if !post(url+"/api/v2/alerts", []amAlert{second}) {
		t.Fatal("post refused")
	}
	q.waitIncidents(t, "open", "the second incident alone", func(incs []quell.Incident) bool { return len(incs) == 1 && incs[0].ID != id })
	// The history hears of the eviction from the sinks, a moment after.
	check := func(p *proc, when string) {
		t.Helper()
		eventually(t, p, when+": the evicted incident by id", func() (bool, string) {
			var inc quell.Incident
			err := getJSON(url+"/api/v1/incidents/"+id, &inc)
			return err == nil && inc.ID == id && inc.Evicted && inc.Status == quell.IncidentResolved &&
				len(inc.Alerts) == 1 && inc.Alerts[0].Labels["alertname"] == "BackupFailed", fmt.Sprintf("%+v (%v)", inc, err)
		})
	}
	check(p, "after the eviction")
	p.stop(t)
	check(e.start(t), "after a restart")
}
