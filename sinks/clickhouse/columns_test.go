package clickhouse

import (
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

func TestSplitTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
		secs int64
		ms   uint16
	}{
		{"zero is unset", time.Time{}, 0, 0},
		{"before 1970", time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0},
		{"milliseconds kept", time.Unix(1700000000, 999_900_000), 1700000000, 999},
		{"past 2106 clamps", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 1<<32 - 1, 0},
	} {
		secs, ms := splitTime(tc.in)
		if secs != tc.secs || ms != tc.ms {
			t.Errorf("%s: got %d s %d ms, want %d s %d ms", tc.name, secs, ms, tc.secs, tc.ms)
		}
	}
}

func TestEventID(t *testing.T) {
	a := decision("A", "b", quell.Firing, quell.ActionCreated, 0).Alert
	d := xxhash.New()
	same := a
	same.Labels = map[string]string{"other": "labels"} // identity is the fingerprint, not the map
	repeat := a
	repeat.ReceivedAt = a.ReceivedAt.Add(time.Second)
	resolved := a
	resolved.Status = quell.Resolved
	id := eventID(d, &a)
	if eventID(d, &same) != id {
		t.Error("a redelivered occurrence got a new event id")
	}
	if eventID(d, &repeat) == id || eventID(d, &resolved) == id {
		t.Error("a repeat or a resolve shares its event id with the first occurrence")
	}
}
