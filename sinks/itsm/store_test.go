package itsm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
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
