package itsm

import (
	"strings"
	"testing"

	"github.com/quellhq/quell"
)

// feedbackChanges: two incidents open; someone acknowledges the first,
// then merges the second into it.
func feedbackChanges() []quell.IncidentChange {
	const f = quell.Firing
	a := alert(1, f, "alertname", "HighLatency", "service", "web")
	b := alert(2, f, "alertname", "DiskFull", "service", "db")
	acked := change(quell.IncidentUpdated, 2, "inc-web", a)
	acked.Incident.AcknowledgedAt, acked.Incident.AcknowledgedBy = acked.At, "alice"
	merged := change(quell.IncidentMerged, 2, "inc-db", b)
	merged.Incident.Status, merged.Incident.MergedInto, merged.Incident.ResolvedBy = quell.IncidentResolved, "inc-web", "alice"
	survivor := change(quell.IncidentUpdated, 3, "inc-web", a, b)
	survivor.Incident.AcknowledgedAt, survivor.Incident.AcknowledgedBy = acked.At, "alice"
	return []quell.IncidentChange{
		change(quell.IncidentCreated, 1, "inc-web", a),
		change(quell.IncidentCreated, 1, "inc-db", b),
		acked, merged, survivor,
	}
}

// TestAcknowledgedAndMergedTickets: an acknowledgement reaches each ITSM as
// it records one; a merged incident's ticket closes as a duplicate of the
// survivor's.
func TestAcknowledgedAndMergedTickets(t *testing.T) {
	t.Run("servicenow", func(t *testing.T) {
		f := newFakeServiceNow()
		h := start(t, f.config(serve(t, f)), t.TempDir())
		h.send(feedbackChanges()...)
		h.close()
		web, db := f.incidents[f.tickets("inc-web")[0]], f.incidents[f.tickets("inc-db")[0]]
		if web.State != "2" || !strings.Contains(strings.Join(web.WorkNotes, "\n"), "Acknowledged by alice in quell.") {
			t.Errorf("the acknowledged record: state %s, notes %q; want 2 (In Progress) and a note naming alice", web.State, web.WorkNotes)
		}
		if db.State != "6" || db.Parent != web.SysID || !strings.Contains(db.CloseNotes, "Duplicate: alice merged quell incident inc-db into inc-web (ticket "+web.Number+")") {
			t.Errorf("the merged record: state %s, parent %q, close notes %q; want resolved, a child of %s, a note naming %s",
				db.State, db.Parent, db.CloseNotes, web.SysID, web.Number)
		}
		if web.State == "6" {
			t.Error("the survivor's record was resolved")
		}
	})
	t.Run("jira", func(t *testing.T) {
		f := newFakeJira()
		h := start(t, f.config(serve(t, f)), t.TempDir())
		h.send(feedbackChanges()...)
		h.close()
		web, db := f.issues[f.tickets("inc-web")[0]], f.issues[f.tickets("inc-db")[0]]
		if db.Duplicates != web.Key || db.Status != "Done" || web.Status == "Done" {
			t.Errorf("the merged issue %s duplicates %q and is %s, the survivor %s is %s; want a duplicate of the survivor, done, the survivor not",
				db.Key, db.Duplicates, db.Status, web.Key, web.Status)
		}
		if web.Comments != 2 { // acknowledged, then the merged alert joined
			t.Errorf("the survivor has %d comments, want 2", web.Comments)
		}
	})
	t.Run("pagerduty", func(t *testing.T) {
		f := newFakePagerDuty()
		h := start(t, f.config(serve(t, f)), t.TempDir())
		h.send(feedbackChanges()...)
		h.close()
		var acks []string
		for _, b := range f.bodies("POST /v2/enqueue") {
			if s := string(b); strings.Contains(s, `"event_action":"acknowledge"`) {
				acks = append(acks, s)
			}
		}
		if len(acks) != 1 || !strings.Contains(acks[0], `"dedup_key":"inc-web"`) {
			t.Errorf("acknowledge events: %q; want one for inc-web", acks)
		}
		if !f.resolved("inc-db") || f.resolved("inc-web") {
			t.Errorf("inc-db resolved %v, inc-web resolved %v; want only the merged one resolved", f.resolved("inc-db"), f.resolved("inc-web"))
		}
	})
}

// TestTicketLinks: each ticket opens where its tool shows it.
func TestTicketLinks(t *testing.T) {
	sn, jr := newFakeServiceNow(), newFakeJira()
	cfg := sn.config(serve(t, sn))
	cfg.Jira = jr.config(serve(t, jr)).Jira
	dir := t.TempDir()
	h := start(t, cfg, dir)
	h.send(feedbackChanges()[0])
	h.close()
	links := cfg.Links(h.store, "inc-web")
	if len(links) != 2 {
		t.Fatalf("links %+v, want one per tool", links)
	}
	for _, l := range links {
		var want string
		switch l.Sink {
		case "jira/ops":
			want = cfg.Jira[0].URL + "/browse/OPS-1"
		case "servicenow/prod":
			want = cfg.ServiceNow[0].URL + "/nav_to.do?uri=incident.do%3Fsys_id%3D" + l.ID
		}
		if l.URL != want {
			t.Errorf("%s: %q, want %q", l.Sink, l.URL, want)
		}
	}
}
