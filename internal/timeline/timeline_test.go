package timeline

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func decision(inc string, action quell.Action, at time.Duration, name string) quell.Decision {
	return quell.Decision{Incident: inc, Action: action, At: t0.Add(at), Reason: "because " + name,
		Alert: quell.Alert{Fingerprint: quell.Fingerprint(len(name)), Labels: map[string]string{"alertname": name, "service": "web"}}}
}

// TestTimeline keeps an incident's decisions and changes in time order,
// leaves out repeats and updates, keeps them across a restart, and stays
// within its bounds.
func TestTimeline(t *testing.T) {
	dir := t.TempDir()
	tl, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	merged := quell.IncidentChange{Kind: quell.IncidentMerged, At: t0.Add(3 * time.Second),
		Incident: quell.Incident{ID: "b", MergedInto: "a", ResolvedBy: "alice"}}
	b := sinks.Batch{
		Decisions: []quell.Decision{
			decision("a", quell.ActionCreated, 0, "HighLatency"),
			decision("a", quell.ActionDeduplicated, time.Second, "HighLatency"),
			decision("a", quell.ActionJoined, 2*time.Second, "HighErrorRate"),
			{Incident: "a", Action: quell.ActionAcknowledged, At: t0.Add(4 * time.Second), Reason: "acknowledged by bob", Actor: "bob"},
		},
		Changes: []quell.IncidentChange{
			{Kind: quell.IncidentCreated, At: t0.Add(time.Second), Incident: quell.Incident{ID: "a", Title: "HighLatency on web"}},
			{Kind: quell.IncidentUpdated, At: t0.Add(2 * time.Second), Incident: quell.Incident{ID: "a"}},
			merged,
		},
	}
	if err := tl.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := "created HighLatency on web; incident created HighLatency on web; joined HighErrorRate on web; acknowledged  bob"
	if got := kinds(tl, "a"); got != want {
		t.Fatalf("timeline of a:\n got %s\nwant %s", got, want)
	}
	if got := kinds(tl, "b"); got != "incident merged  alice" {
		t.Fatalf("timeline of b: %s", got)
	}
	tl.Close(ctx)

	again, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(again, "a"); got != want {
		t.Fatalf("after a restart:\n got %s\nwant %s", got, want)
	}

	// Per incident: the latest MaxEvents; in all: within the bytes.
	var many []quell.Decision
	for i := range MaxEvents + 10 {
		many = append(many, decision("c", quell.ActionJoined, time.Duration(i)*time.Second, fmt.Sprintf("A%d", i)))
	}
	again.Write(ctx, sinks.Batch{Decisions: many})
	evs, dropped := again.Of("c")
	if len(evs) != MaxEvents || dropped != 10 || evs[0].Title != "A10 on web" {
		t.Fatalf("an incident of %d events keeps %d, dropped %d, first %q", MaxEvents+10, len(evs), dropped, evs[0].Title)
	}
	small, err := Open(t.TempDir(), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		small.Write(ctx, sinks.Batch{Decisions: []quell.Decision{decision(fmt.Sprint(i), quell.ActionCreated, time.Hour+time.Duration(i)*time.Second, "X")}})
		small.Write(ctx, sinks.Batch{Decisions: many[:100]})
	}
	if small.bytes > 64<<10 {
		t.Fatalf("%d bytes kept, bound 64 KiB", small.bytes)
	}
	if evs, _ := small.Of("99"); len(evs) != 1 {
		t.Fatal("the incident touched last was let go")
	}
}

func kinds(tl *Timeline, id string) string {
	evs, _ := tl.Of(id)
	out := ""
	for i, e := range evs {
		if i > 0 {
			out += "; "
		}
		out += e.Kind + " " + e.Title
		if e.Actor != "" {
			out += " " + e.Actor
		}
	}
	return out
}

// TestEventJSON: what an event writes reads back as what encoding/json
// writes, with every field set and with the optional ones left out.
func TestEventJSON(t *testing.T) {
	for _, e := range []Event{
		{At: t0, Incident: "a", Kind: "created"},
		{At: t0.Add(time.Nanosecond), Incident: "b", Kind: "incident merged", Alert: quell.Fingerprint(0xdeadbeef),
			Title: "HighLatency on <web>", Reason: "2 hops (web -> db), \"quoted\"\n\u2028", Actor: "alice", Via: "jira"},
	} {
		var got, want Event
		if err := json.Unmarshal(e.AppendJSON(nil), &got); err != nil {
			t.Fatalf("%s: %v", e.AppendJSON(nil), err)
		}
		b, _ := json.Marshal(&e)
		json.Unmarshal(b, &want)
		if got != want || got != e {
			t.Errorf("AppendJSON reads back as %+v, encoding/json as %+v, want %+v", got, want, e)
		}
	}
}
