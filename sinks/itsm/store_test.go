package itsm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

func TestStoreSurvivesReopenAndForgetsOldResolvedTickets(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for _, r := range []Record{
		{Sink: "jira/ops", Incident: "old", Ticket: Ticket{ID: "OPS-1"}, Seq: 9, Resolved: true},
		{Sink: "jira/ops", Incident: "open", Ticket: Ticket{ID: "OPS-2"}, Seq: 3, Alerts: map[string]quell.Status{"0000000000000001": quell.Firing}},
	} {
		if err := s.put(r); err != nil {
			t.Fatal(err)
		}
	}
	again, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := again.get("jira/ops", "open"); !ok || r.Seq != 3 || r.Ticket.ID != "OPS-2" || r.Alerts["0000000000000001"] != quell.Firing {
		t.Fatalf("after reopening: %+v %v", r, ok)
	}
	now = now.Add(forgetAfter + time.Hour)
	again.now = func() time.Time { return now }
	if err := again.put(Record{Sink: "pagerduty/default", Incident: "new", Ticket: Ticket{ID: "new"}, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := again.get("jira/ops", "old"); ok {
		t.Error("a ticket resolved long ago is still kept")
	}
	if _, ok := again.get("jira/ops", "open"); !ok {
		t.Error("an open ticket was forgotten")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != StoreFile {
		t.Errorf("data dir holds %v, want only %s (no temporary files)", entries, StoreFile)
	}
}

func TestCorruptStoreSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StoreFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(dir); err == nil {
		t.Fatal("a corrupt store opened")
	}
}

func TestListDeadLettersSkipsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	dead := sinks.NewDeadLetters(dir)
	if got, err := dead.List(); err != nil || got != nil {
		t.Fatalf("no file: %v, %v", got, err)
	}
	if err := dead.Add("jira/ops", "answered 400", quell.IncidentChange{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(dead.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"sink":"jira/ops","rea`)
	f.Close()
	got, err := dead.List()
	if err != nil || len(got) != 1 || got[0].Sink != "jira/ops" || got[0].Reason != "answered 400" {
		t.Fatalf("got %+v, %v: want the one complete dead letter", got, err)
	}
}
