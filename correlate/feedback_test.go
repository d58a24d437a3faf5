package correlate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// storm fires two unrelated services at once (db, web) and one more alert
// on web: quell keeps db apart, and the two web alerts together.
func storm(at time.Duration) []occ {
	return []occ{
		{at, "alertname=HighLatency,service=web", ""},
		{at + time.Second, "alertname=DiskFull,service=db", ""},
		{at + 2*time.Second, "alertname=ErrorBudgetBurn,service=web", ""},
	}
}

// endStorm resolves the storm's alerts and lets their incidents close and
// be forgotten.
func endStorm(r *run, cfg Config, at time.Duration) time.Duration {
	for _, o := range storm(at) {
		o.status = quell.Resolved
		r.feed(0, o)
	}
	end := at + 3*time.Second + cfg.ResolveHold + cfg.ReopenWindow + time.Minute
	r.eng.Advance(t0.Add(end))
	if n := r.eng.Count(""); n != 0 {
		r.t.Fatalf("%d incidents still tracked after the storm ended", n)
	}
	return end
}

func (r *run) feedback(f quell.Feedback) error {
	r.t.Helper()
	if f.At.IsZero() {
		f.At = r.eng.now
	}
	_, err := r.eng.Feedback(&f)
	return err
}

func TestMergeTeachesTheNextStorm(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	first := byAlertname(r.feed(cfg.GroupWait, storm(0)...))
	web, db := first["HighLatency"], first["DiskFull"]
	if web == db || first["ErrorBudgetBurn"] != web {
		t.Fatalf("storm grouped as %v; want db apart from web's two alerts", first)
	}
	from := len(r.decisions)
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMerge, Incident: db, Into: web, Actor: "alice", Comment: "the db's disk slows web"}); err != nil {
		t.Fatal(err)
	}
	ds := r.decisions[from:]
	if len(ds) != 1 || ds[0].Action != quell.ActionMerged || ds[0].Incident != web || ds[0].Actor != "alice" ||
		ds[0].Alert.Labels["alertname"] != "DiskFull" || !strings.Contains(ds[0].Reason, "by alice: the db's disk slows web") {
		t.Fatalf("merge decisions: %+v", ds)
	}
	last := r.changes[len(r.changes)-1]
	if last.Kind != quell.IncidentMerged || last.Incident.ID != db || last.Incident.MergedInto != web ||
		last.Incident.Status != quell.IncidentResolved || last.Incident.ResolvedBy != "alice" {
		t.Fatalf("last change %s of %s (merged into %q, %s by %q); want db merged into web", last.Kind, last.Incident.ID,
			last.Incident.MergedInto, last.Incident.Status, last.Incident.ResolvedBy)
	}
	if _, ok := r.eng.Incident(db); ok {
		t.Fatal("the merged incident is still tracked")
	}
	inc, _ := r.eng.Incident(web)
	if len(inc.Alerts) != 3 {
		t.Fatalf("web's incident holds %d alerts after the merge, want 3", len(inc.Alerts))
	}
	for _, a := range inc.Alerts {
		if a.Labels["alertname"] == "DiskFull" && !strings.HasPrefix(a.Reason, "merged from incident "+db) {
			t.Errorf("the merged alert is there because %q; want the merge", a.Reason)
		}
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMerge, Incident: db, Into: web, Actor: "alice"}); err == nil {
		t.Fatal("merging an incident that merged away was accepted")
	}

	// The same storm, after the first has closed and gone: one incident.
	end := endStorm(r, cfg, 10*time.Second)
	again := r.feed(cfg.GroupWait, storm(end)...)
	got := byAlertname(again)
	if got["DiskFull"] != got["HighLatency"] || got["ErrorBudgetBurn"] != got["HighLatency"] {
		t.Fatalf("the storm again grouped as %v; want one incident, as alice said:\n%s", got, reasons(again))
	}
	if !strings.Contains(reasons(again), "a person grouped them before") {
		t.Fatalf("no reason names the teaching:\n%s", reasons(again))
	}

	// What was taught survives a restart (a snapshot through JSON).
	r2 := newRun(t, cfg, nil)
	r2.eng.Restore(throughJSON(t, r.eng.Snapshot()))
	end = endStorm(r2, cfg, end+10*time.Second)
	got = byAlertname(r2.feed(cfg.GroupWait, storm(end)...))
	if got["DiskFull"] != got["HighLatency"] {
		t.Fatalf("after a restart the storm grouped as %v; want one incident", got)
	}
}

func TestMoveTeachesTheNextStorm(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	first := byAlertname(r.feed(cfg.GroupWait, storm(0)...))
	web := first["HighLatency"]
	burn := alert(storm(0)[2])
	from := len(r.decisions)
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMove, Alert: burn.Fingerprint, To: quell.MoveToNew, Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	r.eng.Advance(r.eng.now.Add(cfg.GroupWait)) // the new incident is announced: its decision goes out
	ds := r.decisions[from:]
	if len(ds) != 1 || ds[0].Action != quell.ActionMoved || ds[0].Incident == web || ds[0].Incident == "" || ds[0].Actor != "bob" {
		t.Fatalf("move decisions: %+v", ds)
	}
	own := ds[0].Incident
	if inc, _ := r.eng.Incident(web); len(inc.Alerts) != 1 {
		t.Fatalf("web's incident holds %d alerts after the move, want 1", len(inc.Alerts))
	}
	if inc, ok := r.eng.Incident(own); !ok || len(inc.Alerts) != 1 || inc.Alerts[0].Fingerprint != burn.Fingerprint {
		t.Fatalf("the new incident: %+v", inc)
	}
	// Repeats follow the alert to where it was moved.
	if d := r.feed(0, storm(30 * time.Second)[2]); d[0].Incident != own || d[0].Action != quell.ActionDeduplicated {
		t.Fatalf("a repeat after the move: %+v", d[0])
	}
	// Moving it back, then to where it is, is refused as no change.
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMove, Alert: burn.Fingerprint, To: own, Actor: "bob"}); !errors.Is(err, ErrNoChange) {
		t.Fatalf("a move to where the alert is: %v, want ErrNoChange", err)
	}

	end := endStorm(r, cfg, 40*time.Second)
	again := r.feed(cfg.GroupWait, storm(end)...)
	got := byAlertname(again)
	if got["ErrorBudgetBurn"] == got["HighLatency"] {
		t.Fatalf("the storm again grouped as %v; want ErrorBudgetBurn apart, as bob said:\n%s", got, reasons(again))
	}
	if !strings.Contains(reasons(again), "a person set them apart before") {
		t.Fatalf("no reason names the teaching:\n%s", reasons(again))
	}
}

func TestAcknowledgeAndResolve(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	web := byAlertname(r.feed(cfg.GroupWait, storm(0)...))["HighLatency"]
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackAcknowledge, Incident: web, Actor: "carol", Comment: "looking"}); err != nil {
		t.Fatal(err)
	}
	ackAt := r.eng.now
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackAcknowledge, Incident: web, Actor: "dave"}); !errors.Is(err, ErrNoChange) {
		t.Fatalf("a second acknowledgement: %v, want ErrNoChange", err)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackAcknowledge, Incident: "nosuch", Actor: "dave"}); err == nil || errors.Is(err, ErrNoChange) {
		t.Fatalf("acknowledging an unknown incident: %v", err)
	}
	inc, _ := r.eng.Incident(web)
	if inc.AcknowledgedBy != "carol" || !inc.AcknowledgedAt.Equal(ackAt) {
		t.Fatalf("acknowledged by %q at %s; want carol at %s", inc.AcknowledgedBy, inc.AcknowledgedAt, ackAt)
	}
	d := r.decisions[len(r.decisions)-1]
	if d.Action != quell.ActionAcknowledged || d.Incident != web || d.Actor != "carol" || d.Reason != "acknowledged by carol: looking" {
		t.Fatalf("acknowledgement decision: %+v", d)
	}

	if err := r.feedback(quell.Feedback{Action: quell.FeedbackAssign, Incident: web, Assignee: "Dave", Actor: "PagerDuty", Via: "pagerduty"}); err != nil {
		t.Fatal(err)
	}
	if d := r.decisions[len(r.decisions)-1]; d.Action != quell.ActionAssigned || d.Via != "pagerduty" || d.Reason != "assigned to Dave by PagerDuty in pagerduty" {
		t.Fatalf("assignment decision: %+v", d)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackAssign, Incident: web, Assignee: "Dave", Actor: "PagerDuty", Via: "pagerduty"}); !errors.Is(err, ErrNoChange) {
		t.Fatalf("the same assignment again: %v, want ErrNoChange", err)
	}
	if inc, _ := r.eng.Incident(web); inc.AssignedTo != "Dave" {
		t.Fatalf("assigned to %q, want Dave", inc.AssignedTo)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackResolve, Incident: web, Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	inc, _ = r.eng.Incident(web)
	if inc.Status != quell.IncidentResolved || inc.ResolvedBy != "carol" {
		t.Fatalf("after the resolve: %s by %q", inc.Status, inc.ResolvedBy)
	}
	if c := r.changes[len(r.changes)-1]; c.Kind != quell.IncidentResolve || c.Incident.ID != web {
		t.Fatalf("last change %s of %s, want web resolved", c.Kind, c.Incident.ID)
	}
	// Its alerts still fire: their repeats stay with it and do not reopen it.
	ds := r.feed(0, storm(time.Minute)[0])
	if ds[0].Action != quell.ActionDeduplicated || ds[0].Incident != web {
		t.Fatalf("a repeat after the resolve: %+v", ds[0])
	}
	if inc, _ := r.eng.Incident(web); inc.Status != quell.IncidentResolved {
		t.Fatalf("a repeat reopened the incident a person resolved")
	}
}

// TestMergedYoungStillAnswers: an incident a person merges before it was
// announced (so no sink heard of it) still answers by its id, resolved and
// naming the incident its alerts went to, also once that one merged on.
func TestMergedYoungStillAnswers(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	r.feed(0, storm(0)...)
	r.feed(0, occ{3 * time.Second, "alertname=QueueFull,service=mail", ""})
	ids := map[string]string{}
	for id, inc := range r.eng.incidents {
		if inc.announced {
			t.Fatalf("incident %s announced within group_wait", id)
		}
		ids[inc.title] = id
	}
	web, db, mail := ids["HighLatency on web"], ids["DiskFull on db"], ids["QueueFull on mail"]
	if web == "" || db == "" || mail == "" || len(ids) != 3 {
		t.Fatalf("incidents %v; want web's, db's and mail's", ids)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMerge, Incident: db, Into: web, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	got, ok := r.eng.Incident(db)
	if !ok || got.ID != db || got.MergedInto != web || got.Status != quell.IncidentResolved || got.Title != "DiskFull on db" {
		t.Fatalf("merged-away incident %s answers %v %+v; want resolved, merged into %s", db, ok, got, web)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackMerge, Incident: web, Into: mail, Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.eng.Incident(db); got.MergedInto != mail {
		t.Errorf("after %s merged into %s, %s names %s", web, mail, db, got.MergedInto)
	}
	if _, ok := r.eng.Incident("no-such-incident"); ok {
		t.Errorf("an unknown id answers")
	}
}
