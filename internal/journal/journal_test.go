package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

func batch(from, n int) []quell.Alert {
	out := make([]quell.Alert, n)
	for i := range out {
		out[i] = quell.Alert{Source: "alertmanager", Status: quell.Firing, Severity: quell.Warning,
			Labels: map[string]string{"alertname": fmt.Sprintf("A%d", from+i)}, StartsAt: time.Unix(int64(from+i), 0).UTC(),
			Raw: []byte(fmt.Sprintf(`{"n": %d}`, from+i))}
	}
	return out
}

func names(t *testing.T, j *Journal, from int64) []string {
	t.Helper()
	var got []string
	if err := j.Replay(from, func(b []quell.Alert) error {
		for _, a := range b {
			got = append(got, a.Labels["alertname"]+string(a.Raw))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestJournalKeepsBatchesUntilCut(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := j.Append(batch(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := j.Append(batch(2, 3))
	if _, err := j.Append(batch(5, 1)); err != nil {
		t.Fatal(err)
	}
	if got := names(t, j, 0); len(got) != 6 || got[0] != `A0{"n": 0}` {
		t.Fatalf("replay from the start: %v", got)
	}
	if got := names(t, j, p1); len(got) != 4 || got[0] != `A2{"n": 2}` {
		t.Fatalf("replay from after the first batch: %v", got)
	}
	// A saved state covers the first two batches: they go, positions stay.
	if err := j.Cut(p2); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(batch(5, 0)); err != nil { // an empty batch, into the new segment
		t.Fatal(err)
	}
	if err := j.Cut(j.End()); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, segmentPrefix+"*")); len(files) != 1 {
		t.Fatalf("after cutting everything, segments %v; want only the new one", files)
	}
	if got := names(t, j, p2); len(got) != 0 {
		t.Fatalf("after cutting everything: %v", got)
	}
	p2 = j.End()
	if _, err := j.Append(batch(5, 1)); err != nil {
		t.Fatal(err)
	}
	if got := names(t, j, p2); len(got) != 1 || got[0] != `A5{"n": 5}` {
		t.Fatalf("after the cut: %v", got)
	}
	j.Close()

	// A crash mid-write leaves a torn frame: reopening cuts it off and
	// keeps every whole batch.
	f, err := os.OpenFile(j.path(j.segs[len(j.segs)-1]), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 'x'})
	f.Close()
	j, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := names(t, j, p2); len(got) != 1 {
		t.Fatalf("after reopening a torn journal: %v", got)
	}
	p4, err := j.Append(batch(6, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, j, p2); len(got) != 2 || got[1] != `A6{"n": 6}` || p4 <= p2 {
		t.Fatalf("appending after the reopen: %v (position %d after %d)", got, p4, p2)
	}
}
