package quell

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// IncidentChange.AppendJSON must write what encoding/json writes, read
// back: with every optional field set, and with none.
func TestIncidentChangeAppendJSON(t *testing.T) {
	at := time.Date(2026, 12, 5, 17, 4, 5, 123456789, time.UTC)
	member := IncidentAlert{Fingerprint: 0x77a2f5f25a6942c2, Source: "alertmanager", Status: Firing,
		Labels: map[string]string{"alertname": "Disk \"full\"", "team": "stor\u00e5ge\n\u2028"}, Annotations: map[string]string{"summary": "</b> & \xff"},
		StartsAt: at, EndsAt: at.Add(time.Minute), Count: 3, LastSeen: at.Add(time.Second), Flapping: true, Reason: "score 0.99: 1 hop"}
	full := IncidentChange{Kind: IncidentUpdated, Seq: 1<<63 + 5, At: at.Add(time.Hour), Incident: Incident{
		ID: "0360421948f7bcb0", Status: IncidentResolved, Title: "Disk \"full\" on db-1", Severity: Critical,
		CreatedAt: at, UpdatedAt: at.Add(time.Minute), ResolvedAt: at.Add(time.Hour), ResolvedBy: "alice",
		AcknowledgedAt: at.Add(2 * time.Minute), AcknowledgedBy: "bob", AssignedTo: "carol", MergedInto: "a1", Evicted: true,
		Resolving: true, ClosesAt: at.Add(3 * time.Minute), Runbooks: []string{"https://wiki/disk?x=1&y=2", "b"},
		Recurrence: &Recurrence{Signature: "DiskFull on host", Seen: 4, Last: "b2", LastResolvedAt: at.Add(-time.Hour), LastResolvedBy: "dave"},
		Alerts:     []IncidentAlert{member, {Fingerprint: 1, Labels: map[string]string{}}},
	}}
	bare := IncidentChange{Kind: IncidentCreated, Incident: Incident{ID: "b", Status: IncidentOpen}}
	empty := bare
	empty.Incident.Alerts = []IncidentAlert{}
	for name, c := range map[string]IncidentChange{"full": full, "bare": bare, "no alerts": empty} {
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		var g, w IncidentChange
		readBoth(t, c.AppendJSON(nil), want, &g, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: AppendJSON read back as\n%+v\nencoding/json as\n%+v", name, g, w)
		}
		var gm, wm map[string]any // the same fields present, null where encoding/json writes null
		readBoth(t, c.AppendJSON(nil), want, &gm, &wm)
		if !reflect.DeepEqual(gm, wm) {
			t.Errorf("%s: AppendJSON wrote\n%v\nencoding/json\n%v", name, gm, wm)
		}
	}
}

// Incident.WriteJSON writes what AppendJSON appends, in writes of about
// writeChunk bytes, however many alerts the incident holds.
func TestIncidentWriteJSON(t *testing.T) {
	inc := Incident{ID: "big", Status: IncidentOpen}
	for i := range 3000 {
		inc.Alerts = append(inc.Alerts, IncidentAlert{Fingerprint: Fingerprint(i), Status: Firing,
			Labels: map[string]string{"alertname": "DiskFull", "instance": strconv.Itoa(i)}, Reason: "score 0.81: 2 hops"})
	}
	for name, in := range map[string]Incident{"3,000 alerts": inc, "none": {ID: "none"}} {
		var w chunks
		if _, err := in.WriteJSON(&w, nil); err != nil {
			t.Fatal(err)
		}
		if want := in.AppendJSON(nil); !bytes.Equal(w.all, want) {
			t.Fatalf("%s: WriteJSON wrote %d bytes unlike AppendJSON's %d", name, len(w.all), len(want))
		}
		if w.largest > writeChunk+1<<10 {
			t.Errorf("%s: a write of %d bytes, want about %d at most", name, w.largest, writeChunk)
		}
	}
}

// chunks records what is written to it and its largest write.
type chunks struct {
	all     []byte
	largest int
}

func (c *chunks) Write(p []byte) (int, error) {
	c.all = append(c.all, p...)
	c.largest = max(c.largest, len(p))
	return len(p), nil
}
