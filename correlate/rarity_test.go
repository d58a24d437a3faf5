package correlate

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestRarityFollowsWhatIsHeld: once incidents are evicted, the rarity
// counts are what the incidents still held carry, counted afresh.
func TestRarityFollowsWhatIsHeld(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIncidents = 3
	r := newRun(t, cfg, nil)
	for i := range 40 {
		a := alert(occ{labels: fmt.Sprintf("alertname=A%d,service=svc%d,pod=svc%d-7d9f8b6c5-x%d,namespace=prod", i%3, i%8, i%8, i)})
		a.Annotations = map[string]string{"summary": fmt.Sprintf("latency of svc%d above %d ms", i%8, 100*(i%4))}
		r.eng.Process(&a, t0.Add(time.Duration(i)*2*time.Minute))
	}
	evicted := 0
	for _, d := range r.decisions {
		if strings.HasPrefix(d.Reason, "evicted") {
			evicted++
		}
	}
	if evicted < 5 {
		t.Fatalf("%d incidents evicted, want several", evicted)
	}
	want := newRarity()
	for _, inc := range r.eng.incidents {
		for fp := range inc.members {
			want.add(r.eng.infos[fp], 1)
		}
	}
	got := r.eng.rarity
	if got.total != want.total || !maps.Equal(got.df, want.df) {
		t.Fatalf("rarity counts %d alerts and %d tokens, want %d alerts and %d tokens (a recount of what is held)", got.total, len(got.df), want.total, len(want.df))
	}
	if want.total == 0 || len(want.df) == 0 {
		t.Fatal("nothing held to count")
	}
}
