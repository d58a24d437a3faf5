package ingest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
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

// TestParseIncidentChangeRecord: an incident change record reads as
// encoding/json reads it, with every optional field and with none, unknown
// fields skipped; what is not one is an error naming where.
func TestParseIncidentChangeRecord(t *testing.T) {
	at := time.Date(2026, 12, 5, 17, 4, 5, 123456789, time.UTC)
	member := quell.IncidentAlert{Fingerprint: 0x77a2f5f25a6942c2, Source: SourceAlertmanager, Status: quell.Firing,
		Labels: map[string]string{"alertname": "Disk \"full\"", "team": "stor\u00e5ge\n"}, Annotations: map[string]string{"summary": "</b> &"},
		StartsAt: at, EndsAt: at.Add(time.Minute), Count: 3, LastSeen: at.Add(time.Second), Flapping: true, Reason: "score 0.99: 1 hop"}
	full := quell.IncidentChange{Kind: quell.IncidentUpdated, Seq: 1<<63 + 5, At: at.Add(time.Hour), Incident: quell.Incident{
		ID: "0360421948f7bcb0", Status: quell.IncidentResolved, Title: "Disk \"full\" on db-1", Severity: quell.Critical,
		CreatedAt: at, UpdatedAt: at.Add(time.Minute), ResolvedAt: at.Add(time.Hour), ResolvedBy: "alice",
		AcknowledgedAt: at.Add(2 * time.Minute), AcknowledgedBy: "bob", AssignedTo: "carol", MergedInto: "a1", Evicted: true,
		Resolving: true, ClosesAt: at.Add(3 * time.Minute), Runbooks: []string{"https://wiki/disk?x=1&y=2", "b"},
		Recurrence: &quell.Recurrence{Signature: "DiskFull on host", Seen: 4, Last: "b2", LastResolvedAt: at.Add(-time.Hour), LastResolvedBy: "dave"},
		Alerts:     []quell.IncidentAlert{member, {Fingerprint: 1, Labels: map[string]string{}}},
	}}
	bare := quell.IncidentChange{Kind: quell.IncidentCreated, Incident: quell.Incident{ID: "b", Status: quell.IncidentOpen, Alerts: []quell.IncidentAlert{}}}
	for _, c := range []quell.IncidentChange{full, bare} {
		rec := c.AppendJSON(nil)
		got, err := ParseIncidentChangeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		var want quell.IncidentChange
		if err := json.Unmarshal(rec, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner and encoding/json differ:\n  %+v\n  %+v", got, want)
		}
		withMore := `{"future":{"a":[1]},"incident":{"x":null,` + string(rec[len(`{"kind":"`+string(c.Kind)+`","incident":{`):])
		withMore = `{"kind":"` + string(c.Kind) + `",` + withMore[1:]
		if again, err := ParseIncidentChangeRecord([]byte(withMore)); err != nil || !reflect.DeepEqual(again, want) {
			t.Fatalf("a record with unknown fields %s: %v, %+v", withMore, err, again)
		}
	}
	for bad, where := range map[string]string{
		`[]`:                               "want a quell incident change",
		`{"seq":-1}`:                       "seq: want a non-negative integer",
		`{"seq":1.5}`:                      "seq: 1.5 is not",
		`{"incident":{"resolving":"yes"}}`: "incident.resolving: want true or false",
		`{"incident":{"alerts":[{},{"count":"3"}]}}`: "incident.alerts[1].count",
		`{"incident":{"runbooks":[1]}}`:              "incident.runbooks[0]",
		`{"kind":"created"} x`:                       "unexpected data",
	} {
		_, err := ParseIncidentChangeRecord([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), where) {
			t.Errorf("%s: %v, want an error with %q", bad, err, where)
		}
	}
}

// TestIncidentIDDoesNotHoldItsRecord: sinks keep the ids of the incidents
// they saw (to drop changes delivered twice), and a change's record holds
// all of its alerts: the id must not keep the record's strings alive.
func TestIncidentIDDoesNotHoldItsRecord(t *testing.T) {
	const records, alerts = 50, 500
	c := quell.IncidentChange{Kind: quell.IncidentUpdated, Incident: quell.Incident{Status: quell.IncidentOpen}}
	for i := range alerts {
		c.Incident.Alerts = append(c.Incident.Alerts, quell.IncidentAlert{Fingerprint: quell.Fingerprint(i),
			Labels: map[string]string{"alertname": "HighLatency", "pod": strings.Repeat("x", 400) + strconv.Itoa(i)}, Reason: "score 0.9"})
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	ids := make([]string, 0, records)
	size := 0
	for i := range records {
		c.Incident.ID = fmt.Sprintf("%016x", i)
		rec := c.AppendJSON(nil)
		size += len(rec)
		got, err := ParseIncidentChangeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.Incident.ID)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if held := int64(ms.HeapAlloc) - int64(before); held > int64(size/10) {
		t.Fatalf("%d ids hold %d bytes of the heap after their %d bytes of records were read", len(ids), held, size)
	}
	runtime.KeepAlive(ids)
}
