package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestParseDecisionRecord: a decision record reads as encoding/json reads
// it, unknown fields skipped; what is not one is an error.
func TestParseDecisionRecord(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	d := quell.Decision{
		Alert: quell.Alert{Source: SourceAlertmanager, Status: quell.Firing, Severity: quell.Severity("critical"),
			Labels:      map[string]string{"alertname": "Disk \"full\"", "instance": "db-1:9100", "team": "stor\u00e5ge\n"},
			Annotations: map[string]string{"summary": "</script> & more"},
			StartsAt:    at, ReceivedAt: at.Add(time.Second), Fingerprint: 0x77a2f5f25a6942c2, GeneratorURL: "http://prom/graph?g0.expr=up",
			SourceFingerprint: "d1f0a2", Raw: json.RawMessage(`{"labels":{"alertname":"Disk \"full\""},"x":[1,2.5,null,true]}`)},
		Incident: "0360421948f7bcb0", Action: quell.ActionJoined, Reason: "score 0.99: on graph node db-1", At: at.Add(2 * time.Second),
		Actor: "alice", Via: "jira",
	}
	rec := d.AppendJSON(nil)
	got, err := ParseDecisionRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	var want quell.Decision
	if err := json.Unmarshal(rec, &want); err != nil {
		t.Fatal(err)
	}
	if !sameAlert(got.Alert, want.Alert) || got.Incident != want.Incident || got.Action != want.Action || got.Reason != want.Reason ||
		!got.At.Equal(want.At) || got.Actor != want.Actor || got.Via != want.Via {
		t.Fatalf("scanner and encoding/json differ:\n  %+v\n  %+v", got, want)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("decision changed in its record:\n  %+v\n->%+v", d, got)
	}
	withMore := `{"future":{"a":[1]},` + string(rec[1:])
	if again, err := ParseDecisionRecord([]byte(withMore)); err != nil || !reflect.DeepEqual(again, d) {
		t.Fatalf("a record with an unknown field: %v, %+v", err, again)
	}
	for _, bad := range []string{`[]`, `{"alert":[]}`, `{"at":"yesterday"}`, `{"incident":"a"} x`, `{"reason":"a"`} {
		if _, err := ParseDecisionRecord([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
