package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestResolvedHistory: a resolved incident stays readable by id and in the
// resolved list after the correlator let it go (its reopen window over),
// and after a restart, on the embedded default.
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
}
