package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStateBudgetIsShared: engines sharing a StateBudget hold no more than
// MaxStateBytes together (split mode's partitions, each ticked as the
// clock moves), a storm in one does not empty another that holds less than
// its part, an idle one over its part gives back at its tick, and a
// released engine's bytes leave the count.
func TestStateBudgetIsShared(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxStateBytes = 64 << 10
	cfg.StateBudget = &StateBudget{}
	a, b := newRun(t, cfg, nil), newRun(t, cfg, nil)
	big := strings.Repeat("x", 4<<10)
	storm := func(r, idle *run, name string, n int, from time.Duration) (peak int64) {
		for i := range n {
			at := from + time.Duration(i)*time.Second
			r.feed(0, occ{at, fmt.Sprintf("alertname=%s%d,service=%s%d,pad=%s", name, i, name, i, big), ""})
			if idle != nil {
				idle.eng.Tick(t0.Add(at))
			}
			if held, sum := cfg.StateBudget.Held(), a.eng.stateBytes+b.eng.stateBytes; held != sum {
				t.Fatalf("the budget counts %d bytes, the engines hold %d", held, sum)
			}
			// At most one alert over: the engine adding it evicts at once,
			// the idle one at its tick.
			if held := cfg.StateBudget.Held(); held > cfg.MaxStateBytes+(8<<10) {
				t.Fatalf("%s storm, alert %d: the engines hold %d bytes together, bound %d", name, i, held, cfg.MaxStateBytes)
			}
			peak = max(peak, r.eng.stateBytes)
		}
		return peak
	}
	if peak := storm(a, nil, "A", 40, 0); peak < cfg.MaxStateBytes-(8<<10) { // a alone: the whole share
		t.Fatalf("a alone held at most %d bytes of the share %d", peak, cfg.MaxStateBytes)
	}
	storm(b, a, "B", 40, time.Minute)
	half := cfg.MaxStateBytes / 2
	if b.eng.stateBytes < half-(8<<10) || a.eng.stateBytes > half {
		t.Fatalf("after b's storm b holds %d bytes and a %d, want about their parts of %d", b.eng.stateBytes, a.eng.stateBytes, half)
	}
	a.eng.Release()
	a.eng.Release() // once only
	if held := cfg.StateBudget.Held(); held != b.eng.stateBytes {
		t.Fatalf("with a released the budget counts %d bytes, b holds %d", held, b.eng.stateBytes)
	}
	if peak := storm(b, nil, "C", 20, 3*time.Minute); peak < cfg.MaxStateBytes-(8<<10) { // b alone again
		t.Fatalf("b alone held at most %d bytes of the share %d", peak, cfg.MaxStateBytes)
	}
}

// TestReloadKeepsTheStateBudget: an engine remade for a new topology (a
// reload) takes its predecessor's part of the budget instead of adding to it.
func TestReloadKeepsTheStateBudget(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxStateBytes = 1 << 20
	cfg.StateBudget = &StateBudget{}
	r := newRun(t, cfg, nil)
	r.feed(0, occ{0, "alertname=A,service=web", ""}, occ{time.Second, "alertname=B,service=api", ""})
	ne, err := r.eng.WithTopology(nil)
	if err != nil {
		t.Fatal(err)
	}
	if held := cfg.StateBudget.Held(); held != ne.stateBytes || held == 0 || cfg.StateBudget.engines.Load() != 1 {
		t.Fatalf("after the reload the budget counts %d bytes of %d engines, the engine holds %d", held, cfg.StateBudget.engines.Load(), ne.stateBytes)
	}
}
