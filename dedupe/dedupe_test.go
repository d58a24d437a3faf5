package dedupe

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

func TestFingerprint(t *testing.T) {
	all := NewFingerprinter(nil)
	some := NewFingerprinter(map[string][]string{"datadog": {"monitor_id", "host"}})
	base := quell.Alert{Source: "datadog", Labels: map[string]string{"monitor_id": "7", "host": "a", "title": "CPU 91%"}}
	changed := quell.Alert{Source: "datadog", Labels: map[string]string{"monitor_id": "7", "host": "a", "title": "CPU 95%"}}
	other := quell.Alert{Source: "splunk", Labels: base.Labels}
	split1 := quell.Alert{Source: "x", Labels: map[string]string{"ab": "c"}}
	split2 := quell.Alert{Source: "x", Labels: map[string]string{"a": "bc"}}
	tests := []struct {
		name string
		same bool
		a, b quell.Alert
		f    *Fingerprinter
	}{
		{"every label counts by default", false, base, changed, all},
		{"identity labels narrow it per source", true, base, changed, some},
		{"the source is part of the identity", false, base, other, all},
		{"label boundaries cannot be shifted", false, split1, split2, all},
		{"an empty label is no label", true, base, quell.Alert{Source: "datadog", Labels: map[string]string{"monitor_id": "7", "host": "a", "title": "CPU 91%", "team": ""}}, all},
		{"map order does not matter", true, base, quell.Alert{Source: "datadog", Labels: map[string]string{"title": "CPU 91%", "host": "a", "monitor_id": "7"}}, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa, fb := tt.f.Fingerprint(&tt.a), tt.f.Fingerprint(&tt.b)
			if (fa == fb) != tt.same {
				t.Fatalf("fingerprints %s and %s: same=%v, want %v", fa, fb, fa == fb, tt.same)
			}
		})
	}
	if got := all.Fingerprint(&base).String(); len(got) != 16 {
		t.Fatalf("fingerprint prints as %q, want 16 hex digits", got)
	}
}

func TestObserveClassifies(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fire := func(start time.Duration) *quell.Alert {
		return &quell.Alert{Fingerprint: 1, Status: quell.Firing, StartsAt: t0.Add(start)}
	}
	resolve := &quell.Alert{Fingerprint: 1, Status: quell.Resolved}
	tr := NewTracker(FlapConfig{Window: time.Hour, Enter: 4, Leave: 1})
	steps := []struct {
		a    *quell.Alert
		want Kind
	}{
		{resolve, ResolveUnknown},
		{fire(0), New},
		{fire(0), Repeat},
		{fire(time.Minute), Retrigger},
		{resolve, Resolve},
		{resolve, ResolveRepeat},
		{fire(2 * time.Minute), New},
	}
	for i, s := range steps {
		got, st := tr.Observe(s.a, t0.Add(time.Duration(i)*time.Minute))
		if got != s.want {
			t.Fatalf("step %d: %s, want %s", i, got, s.want)
		}
		if got == New && st.Count != 1 {
			t.Fatalf("step %d: a new episode counts from 1, got %d", i, st.Count)
		}
	}
	if st := tr.Get(1); st.Count != 1 || len(st.Changes) != 2 {
		t.Fatalf("state after the steps: count %d changes %d", st.Count, len(st.Changes))
	}
}

func TestFlappingHasSeparateEnterAndLeaveThresholds(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := NewTracker(FlapConfig{Window: 10 * time.Minute, Enter: 4, Leave: 1})
	var st *State
	toggle := func(i int) {
		a := &quell.Alert{Fingerprint: 9, Status: quell.Firing, StartsAt: t0.Add(time.Duration(i) * time.Minute)}
		if i%2 == 1 {
			a.Status = quell.Resolved
		}
		_, st = tr.Observe(a, t0.Add(time.Duration(i)*time.Minute))
	}
	for i := 0; i <= 3; i++ { // fire, resolve, fire, resolve: 3 changes
		toggle(i)
	}
	if st.Flapping {
		t.Fatal("flapping after 3 changes, enter is 4")
	}
	toggle(4)
	if !st.Flapping {
		t.Fatal("not flapping after 4 changes")
	}
	// Changes age out: 2 left in the window is above leave (1): still flapping.
	if tr.Settle(st, t0.Add(12*time.Minute+30*time.Second)) || !st.Flapping {
		t.Fatal("stopped flapping with 2 changes in the window, leave is 1")
	}
	if !tr.Settle(st, t0.Add(13*time.Minute+30*time.Second)) || st.Flapping {
		t.Fatal("still flapping with 1 change in the window")
	}
}

func TestExpire(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := NewTracker(FlapConfig{Window: time.Hour, Enter: 4, Leave: 1})
	_, st := tr.Observe(&quell.Alert{Fingerprint: 3, Status: quell.Firing, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, t0)
	if !st.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expiry %s, want the announced end", st.ExpiresAt)
	}
	tr.Expire(st, t0.Add(time.Hour))
	if st.Status != quell.Resolved {
		t.Fatalf("status %s after expiry", st.Status)
	}
	if k, _ := tr.Observe(&quell.Alert{Fingerprint: 3, Status: quell.Firing, StartsAt: t0.Add(2 * time.Hour)}, t0.Add(2*time.Hour)); k != New {
		t.Fatalf("firing after expiry is %s, want new", k)
	}
}

// An alert toggling all day keeps at most Enter change times, and flaps
// exactly when a tracker that kept every change would say so.
func TestFlappingKeepsFewChanges(t *testing.T) {
	cfg := FlapConfig{Window: 10 * time.Minute, Enter: 5, Leave: 2}
	tr := NewTracker(cfg)
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []time.Time // every change, for the reference
	flapping := false
	at := t0
	for i := range 2000 {
		at = at.Add(time.Duration(r.IntN(300)) * time.Second)
		a := &quell.Alert{Fingerprint: 9, Status: quell.Firing, StartsAt: at}
		if i%2 == 1 {
			a.Status = quell.Resolved
		}
		_, st := tr.Observe(a, at)
		if i > 0 {
			all = append(all, at)
		}
		n := 0
		for _, c := range all {
			if at.Sub(c) <= cfg.Window {
				n++
			}
		}
		switch {
		case !flapping && n >= cfg.Enter:
			flapping = true
		case flapping && n <= cfg.Leave:
			flapping = false
		}
		if st.Flapping != flapping {
			t.Fatalf("change %d: flapping %v, a full history says %v (%d changes in the window)", i, st.Flapping, flapping, n)
		}
		if len(st.Changes) > cfg.Enter {
			t.Fatalf("change %d: %d change times kept, want at most %d", i, len(st.Changes), cfg.Enter)
		}
	}
}
