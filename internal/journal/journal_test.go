package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/internal/testenv"
)

var discard = slog.New(slog.DiscardHandler)

func batch(from, n int) bus.Entry {
	out := make([]quell.Alert, n)
	for i := range out {
		out[i] = quell.Alert{Source: "alertmanager", Status: quell.Firing, Severity: quell.Warning,
			Labels: map[string]string{"alertname": fmt.Sprintf("A%d", from+i)}, StartsAt: time.Unix(int64(from+i), 0).UTC(),
			Raw: []byte(fmt.Sprintf(`{"labels":{"alertname":"A%d"},"n": %d}`, from+i, from+i))} // as ingest reads it
	}
	return bus.Entry{Alerts: out}
}

func open(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := Open(dir, SyncBatch, 0, discard)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// names replays from and lists each alert as its name and its raw payload's
// n, each tick as @unix.
func names(t *testing.T, j *Journal, from int64) []string {
	t.Helper()
	var got []string
	if err := j.Replay(from, func(e bus.Entry) error {
		switch {
		case e.Feedback != nil:
			got = append(got, fmt.Sprintf("%s:%s:%s@%d", e.Feedback.Action, e.Feedback.Incident, e.Feedback.Actor, e.Feedback.At.Unix()))
		case e.Alerts == nil:
			got = append(got, fmt.Sprintf("@%d", e.Tick.Unix()))
		}
		for _, a := range e.Alerts {
			var raw struct{ N int }
			if err := json.Unmarshal(a.Raw, &raw); err != nil {
				t.Fatalf("raw payload %q: %v", a.Raw, err)
			}
			got = append(got, fmt.Sprintf(`%s{"n": %d}`, a.Labels["alertname"], raw.N))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func mustAppend(t *testing.T, j *Journal, e bus.Entry) int64 {
	t.Helper()
	p, err := j.Append(j.Encode(e))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJournalKeepsEntriesUntilCut(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	p1 := mustAppend(t, j, batch(0, 2))
	mustAppend(t, j, bus.Entry{Tick: time.Unix(100, 0)})
	mustAppend(t, j, bus.Entry{Feedback: &quell.Feedback{Action: quell.FeedbackAcknowledge, Incident: "ab12", Actor: "alice", At: time.Unix(101, 0)}})
	p2 := mustAppend(t, j, batch(2, 3))
	mustAppend(t, j, batch(5, 1))
	if got := strings.Join(names(t, j, 0), " "); got != `A0{"n": 0} A1{"n": 1} @100 acknowledge:ab12:alice@101 A2{"n": 2} A3{"n": 3} A4{"n": 4} A5{"n": 5}` {
		t.Fatalf("replay from the start: %v", got)
	}
	if got := names(t, j, p1); len(got) != 6 || got[0] != "@100" {
		t.Fatalf("replay from after the first batch: %v", got)
	}
	// A saved state covers the first three entries: they go, positions stay.
	if err := j.Cut(p2); err != nil {
		t.Fatal(err)
	}
	if got := names(t, j, p2); len(got) != 1 || got[0] != `A5{"n": 5}` {
		t.Fatalf("after a cut: %v", got)
	}
	// A cut of everything empties the journal without a new file's space.
	end := j.End()
	if err := j.Cut(end); err != nil {
		t.Fatal(err)
	}
	if segs, _ := segments(dir); len(segs) != 1 {
		t.Fatalf("after cutting everything, segments %v; want one, empty", segs)
	}
	if j.Size() != int64(len(magic)) || j.End() != end {
		t.Fatalf("after cutting everything: size %d, end %d (was %d)", j.Size(), j.End(), end)
	}
	p3 := mustAppend(t, j, batch(6, 1))
	if got := names(t, j, end); len(got) != 1 || got[0] != `A6{"n": 6}` || p3 <= end {
		t.Fatalf("after the cut: %v (position %d after %d)", got, p3, end)
	}
	j.Close()
	j = open(t, dir)
	defer j.Close()
	if got := names(t, j, end); len(got) != 1 || j.End() != p3 {
		t.Fatalf("after reopening: %v, end %d want %d", got, j.End(), p3)
	}
}

// TestJournalCutsOffATornTail: a crash mid-write leaves part of a record;
// reopening cuts it off and keeps every whole one.
func TestJournalCutsOffATornTail(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	mustAppend(t, j, batch(0, 2))
	p := mustAppend(t, j, batch(2, 2))
	j.Close()
	rec := appendRecord(nil, batch(4, 3))
	appendFile(t, j.path(0), rec[:len(rec)/2])
	j = open(t, dir)
	defer j.Close()
	if got := names(t, j, 0); len(got) != 4 || j.End() != p {
		t.Fatalf("after reopening a torn journal: %v, end %d want %d", got, j.End(), p)
	}
	mustAppend(t, j, batch(4, 1))
	if got := names(t, j, 0); len(got) != 5 || got[4] != `A4{"n": 4}` {
		t.Fatalf("appending after the reopen: %v", got)
	}
}

// TestJournalRefusesToCutIntactRecords: damage followed by intact records
// is corruption, not a torn tail: Open stops and changes nothing, Check
// says so, and Salvage keeps every intact record from the saved state on.
func TestJournalRefusesToCutIntactRecords(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	p1 := mustAppend(t, j, batch(0, 1)) // covered by a saved state
	mustAppend(t, j, batch(1, 2))
	mustAppend(t, j, bus.Entry{Tick: time.Unix(7, 0)})
	mustAppend(t, j, batch(3, 1))
	j.Close()
	path := j.path(0)
	b, _ := os.ReadFile(path)
	// Garbage in the middle of the second record, as a torn write that
	// later writes were appended after would leave.
	mid := int(p1) + frameLen + 20
	copy(b[mid:], "\x00garbage\x00")
	os.WriteFile(path, b, 0o644)

	_, err := Open(dir, SyncBatch, 0, discard)
	if err == nil || !strings.Contains(err.Error(), "quell journal salvage") {
		t.Fatalf("opening a journal damaged in the middle: %v; want a refusal naming the salvage command", err)
	}
	if after, _ := os.ReadFile(path); len(after) != len(b) {
		t.Fatalf("the failed start changed the journal from %d to %d bytes", len(b), len(after))
	}
	r, err := Check(dir, p1)
	if err != nil || r.Records != 2 || r.Covered != 1 || r.Damaged == 0 || r.Torn {
		t.Fatalf("check: %+v, %v; want 2 intact records after the saved state, 1 covered, damage that is not a torn tail", r, err)
	}
	r, err = Salvage(dir, p1)
	if err != nil || r.Records != 2 {
		t.Fatalf("salvage: %+v, %v", r, err)
	}
	if moved, _ := os.ReadFile(r.Moved + "/" + path[len(dir)+1:]); len(moved) != len(b) {
		t.Fatalf("salvage did not keep the original segment in %s", r.Moved)
	}
	j = open(t, dir)
	defer j.Close()
	if got := strings.Join(names(t, j, p1), " "); got != `@7 A3{"n": 3}` {
		t.Fatalf("after salvage, replay from the saved state: %q", got)
	}
}

// TestJournalCutsOffAFailedWrite fills a small filesystem: the write that
// fails leaves no bytes behind, the journal says it cannot write, and once
// a cut frees space it writes again, every acknowledged record intact.
func TestJournalCutsOffAFailedWrite(t *testing.T) {
	dir := testenv.SmallDisk(t, 1<<20)
	j := open(t, dir)
	defer func() { j.Close() }()
	var acked []int64
	var err error
	for i := 0; err == nil; i++ {
		var p int64
		if p, err = j.Append(j.Encode(batch(i*50, 50))); err == nil {
			acked = append(acked, p)
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(j.Err(), syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v (Err %v); want ENOSPC", err, j.Err())
	}
	if fi, _ := os.Stat(j.path(0)); fi.Size() != j.End() {
		t.Fatalf("after the failed write the segment holds %d bytes, the journal ends at %d: torn bytes left", fi.Size(), j.End())
	}
	// A saved state covers all but the last batch: the cut frees the disk.
	last := acked[len(acked)-1]
	if err := j.Cut(acked[len(acked)-2]); err != nil {
		t.Fatal(err)
	}
	if err := j.Cut(last); err != nil {
		t.Fatalf("cutting a full disk: %v", err)
	}
	mustAppend(t, j, batch(100000, 1))
	if j.Err() != nil {
		t.Fatalf("after a write succeeded: Err %v", j.Err())
	}
	j.Close()
	j = open(t, dir)
	if got := names(t, j, last); len(got) != 1 {
		t.Fatalf("after reopening: %v", got)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// Concurrent writers share fsyncs: each Sync returns once a sync covered
// its record, and cuts that roll segments meanwhile lose nothing.
func TestGroupSyncCoversEveryWriter(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir)
	defer j.Close()
	const writers, each = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				p, err := j.Append(j.Encode(batch(w*each+i, 1)))
				if err == nil {
					err = j.Sync(p)
				}
				if err == nil {
					j.syncs.mu.Lock()
					if j.syncs.synced < p {
						err = fmt.Errorf("Sync(%d) returned with the journal synced up to %d", p, j.syncs.synced)
					}
					j.syncs.mu.Unlock()
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 5 { // cuts at position 0 keep everything, and roll a segment
		if err := j.Cut(0); err != nil {
			t.Fatal(err)
		}
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := names(t, j, 0); len(got) != writers*each {
		t.Fatalf("replay gives %d alerts, want %d", len(got), writers*each)
	}
}
