package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

func resolved(id string, at time.Time) quell.IncidentChange {
	return quell.IncidentChange{Kind: quell.IncidentResolve, Incident: quell.Incident{ID: id, Status: quell.IncidentResolved,
		Title: "DiskFull on " + id, CreatedAt: at.Add(-time.Minute), ResolvedAt: at,
		Alerts: []quell.IncidentAlert{{Fingerprint: 1, Status: quell.Resolved, Labels: map[string]string{"alertname": "DiskFull"}}}}}
}

// restart closes s and opens the history in dir again (a day, 1 MiB), to
// be closed when the test ends.
func restart(t *testing.T, s *Store, dir string) *Store {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, 24*time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// Resolved incidents are kept across a restart, served by id and in the
// resolved list newest first; a reopened one is let go; what is older than
// keep is dropped; past the byte bound the oldest go first.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	s, err := Open(dir, 24*time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{resolved("a", now.Add(-2*time.Hour)), resolved("b", now.Add(-time.Hour)),
		resolved("c", now.Add(-30*time.Minute)), resolved("old", now.Add(-25*time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	reopened := resolved("c", now)
	reopened.Kind = quell.IncidentReopened
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{reopened}}); err != nil {
		t.Fatal(err)
	}
	s = restart(t, s, dir)
	if inc, ok := s.Incident("a"); !ok || inc.Title != "DiskFull on a" || len(inc.Alerts) != 1 {
		t.Fatalf("a after a restart: %+v %v", inc, ok)
	}
	for _, gone := range []string{"c", "old"} {
		if _, ok := s.Incident(gone); ok {
			t.Errorf("%s is still kept", gone)
		}
	}
	list := s.Incidents(correlate.Query{Status: quell.IncidentResolved})
	if len(list) != 2 || list[0].ID != "b" || list[1].ID != "a" {
		t.Fatalf("resolved list: %+v", list)
	}
	if open := s.Incidents(correlate.Query{Status: quell.IncidentOpen}); len(open) != 0 {
		t.Errorf("open list from the history: %v", open)
	}
	page := s.Incidents(correlate.Query{Limit: 1, After: correlate.CursorOf(list[0])})
	if len(page) != 1 || page[0].ID != "a" {
		t.Errorf("page after b: %+v", page)
	}

	// The byte bound: the oldest resolved go first.
	small, err := Open(t.TempDir(), 24*time.Hour, 3*size(&[]quell.Incident{resolved("x", now).Incident}[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close(ctx)
	for i := range 5 {
		if err := small.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{resolved(fmt.Sprint(i), now.Add(time.Duration(i)*time.Minute))}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, ok := small.Incident(fmt.Sprint(i)); ok != (i >= 2) {
			t.Errorf("incident %d kept %v, want the newest three", i, ok)
		}
	}
}

// An incident the correlator evicted, open or not yet announced, stays
// readable by id, marked evicted, across a restart: decisions, tickets and
// the timeline name it. It is no occurrence of its kind (quell's memory
// ended it, not its problem), and past the byte bound evicted incidents go
// before resolved ones: a flood does not push the resolved history out.
func TestEvictedIncidentsAreKept(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Now()
	evicted := func(id string, at time.Time) quell.IncidentChange {
		c := resolved(id, at)
		c.Kind, c.Incident.Evicted = quell.IncidentEvicted, true
		c.Incident.Alerts[0].Status = quell.Firing // it was open: its alert still fired
		return c
	}
	s, err := Open(dir, 24*time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{evicted("ev", now.Add(-time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	s = restart(t, s, dir)
	inc, ok := s.Incident("ev")
	if !ok || !inc.Evicted || inc.Status != quell.IncidentResolved || len(inc.Alerts) != 1 {
		t.Fatalf("the evicted incident after a restart: %+v %v", inc, ok)
	}
	if list := s.Incidents(correlate.Query{Status: quell.IncidentResolved}); len(list) != 1 || list[0].ID != "ev" {
		t.Errorf("resolved list: %+v", list)
	}
	again := resolved("again", now).Incident
	again.Status = quell.IncidentOpen
	if inc, _ := (Reader{Live: liveOf{again}, History: s}).Incident("again"); inc.Recurrence != nil {
		t.Errorf("an incident of the evicted one's kind recurs %+v; an eviction is no occurrence", inc.Recurrence)
	}

	// Room for three: the two resolved stay, older as one is, and the
	// evicted ones go: e1 trimmed first, e2 past the room left.
	small, err := Open(t.TempDir(), 24*time.Hour, 3*size(&[]quell.Incident{resolved("x", now).Incident}[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close(ctx)
	if err := small.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{resolved("old", now.Add(-time.Hour)),
		evicted("e1", now.Add(-time.Minute)), evicted("e2", now), resolved("new", now)}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"old": true, "new": true, "e1": false, "e2": false} {
		if _, ok := small.Incident(id); ok != want {
			t.Errorf("%s kept: %v, want %v", id, ok, want)
		}
	}
	// With no room, an evicted incident costs nothing: a flood's are not
	// even written out.
	written := small.f.Written()
	if err := small.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{evicted("e3", now)}}); err != nil {
		t.Fatal(err)
	}
	if small.f.Written() != written {
		t.Errorf("an evicted incident with no room wrote %d bytes", small.f.Written()-written)
	}
}

// A line cut short by a crash loses that line only.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{resolved("a", time.Now())}})
	s.Close(ctx)
	f, err := os.OpenFile(filepath.Join(dir, File), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"b","status":"reso`)
	f.Close()
	s, err = Open(dir, time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, ok := s.Incident("a"); !ok {
		t.Error("a lost to a torn line after it")
	}
}

// An incident's kind outlives its whole record: kept one day, an incident
// of 20 days ago still makes a new one of its kind recurring, across a
// restart; one of 31 days ago does not, nor one that reopened.
func TestRecurrenceOutlivesTheHistory(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	day := 24 * time.Hour
	ctx := context.Background()
	s, err := Open(dir, day, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	reopened := resolved("back", now.Add(-time.Hour))
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{resolved("month", now.Add(-31*day)), resolved("weeks", now.Add(-20*day)),
		resolved("days", now.Add(-3*day)), reopened}}); err != nil {
		t.Fatal(err)
	}
	reopened.Kind = quell.IncidentReopened
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{reopened}}); err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	s, err = Open(dir, day, 1<<20) // trims and rewrites: no incident is kept whole
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, ok := s.Incident("days"); ok {
		t.Fatal("an incident of three days ago is kept whole, one day is kept")
	}
	now2 := resolved("now", now).Incident
	now2.Status, now2.CreatedAt = quell.IncidentOpen, now.Add(-time.Minute)
	inc, _ := Reader{Live: liveOf{now2}, History: s}.Incident("now")
	if r := inc.Recurrence; r == nil || r.Seen != 2 || r.Last != "days" || !r.LastResolvedAt.Equal(now.Add(-3*day)) {
		t.Fatalf("recurrence %+v, want seen 2 (weeks, days), last days", r)
	}
}

// liveOf serves incs as the correlator would.
type liveOf []quell.Incident

func (l liveOf) Incidents(correlate.Query) []quell.Incident { return l }
func (l liveOf) Incident(id string) (quell.Incident, bool) {
	for _, inc := range l {
		if inc.ID == id {
			return inc, true
		}
	}
	return quell.Incident{}, false
}

// TestRecurrenceNamesWhoResolvedIt: the last incident of the kind, kept
// whole, says who resolved it.
func TestRecurrenceNamesWhoResolvedIt(t *testing.T) {
	now := time.Now()
	s, err := Open(t.TempDir(), 7*24*time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer s.Close(ctx)
	prev := resolved("prev", now.Add(-time.Hour))
	prev.Incident.ResolvedBy = "alice"
	if err := s.Write(ctx, sinks.Batch{Changes: []quell.IncidentChange{prev}}); err != nil {
		t.Fatal(err)
	}
	cur := resolved("cur", now).Incident
	cur.Status, cur.CreatedAt = quell.IncidentOpen, now.Add(-time.Minute)
	inc, _ := Reader{Live: liveOf{cur}, History: s}.Incident("cur")
	if r := inc.Recurrence; r == nil || r.Last != "prev" || r.LastResolvedBy != "alice" {
		t.Fatalf("recurrence %+v, want the last one, prev, resolved by alice", r)
	}
}
