package sinks

import (
	"os"
	"testing"

	"github.com/quellhq/quell"
)

func TestListDeadLettersSkipsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	dead := NewDeadLetters(dir)
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
