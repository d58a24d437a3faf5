package correlate

import (
	"testing"
	"time"
)

// TestCofiringAfterAging: signatures a scope saw start lately keep their
// entries at hand; once aging dropped an entry, the next co-firing with it
// is counted in a new entry that the tables hold, not in the dropped one.
func TestCofiringAfterAging(t *testing.T) {
	c := newCooccur(100)
	sc := &scope{}
	c.observe(sc, 1, t0)
	c.observe(sc, 2, t0.Add(time.Second))
	if p := c.sigs[1].partners; len(p) != 1 || p[0] != (coPartner{2, 1}) {
		t.Fatalf("partners of 1: %v, want 2 once", p)
	}
	c.age() // every count was one: all of it goes
	if len(c.sigs) != 0 || c.entries != 0 || c.seen != 0 {
		t.Fatalf("after aging: %d signatures, %d partner entries, %d seen; want none", len(c.sigs), c.entries, c.seen)
	}
	c.observe(sc, 3, t0.Add(2*time.Second))
	for _, sig := range []uint64{1, 2} {
		s := c.sigs[sig]
		if s == nil || len(s.partners) != 1 || s.partners[0] != (coPartner{3, 1}) {
			t.Fatalf("signature %d after the next co-firing: %+v, want partner 3 once", sig, s)
		}
	}
	st := c.state()
	if len(st.Partners) != 3 || len(st.Seen) != 1 || st.Seen[3] != 1 || c.entries != 4 || c.seen != 1 {
		t.Fatalf("state %+v, %d entries, %d seen; want 3 signatures with partners, 3 seen once, 4 entries", st, c.entries, c.seen)
	}
}
