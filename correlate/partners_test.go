package correlate

import (
	"math/rand/v2"
	"testing"
)

// TestPartnerTable compares what the prepared table says of incidents
// with the counts (those over one: one co-firing is no evidence) and
// teachings it was prepared from, pair by pair.
func TestPartnerTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	e := &Engine{co: newCooccur(1 << 20), taught: newTeaching()}
	const sigs = 200
	for range 5000 {
		a, b := uint64(rng.IntN(sigs)+1), uint64(rng.IntN(sigs)+1)
		if a != b {
			e.co.add(e.co.entry(a), b)
			e.co.add(e.co.entry(b), a)
		}
	}
	for range 300 {
		a, b := uint64(rng.IntN(sigs)+1), uint64(rng.IntN(sigs)+1)
		if a != b {
			e.taught.set(pairOf(a, b), rng.IntN(2) == 0)
		}
	}
	for sig := uint64(1); sig <= sigs; sig++ {
		e.co.entry(sig).seen = uint32(rng.IntN(50))
		e.prepare(&e.partners, sig)
		for range 20 {
			inc := &incident{}
			for range rng.IntN(maxSigs) {
				inc.addSig(uint64(rng.IntN(sigs) + 1))
			}
			var wantN uint32
			wantTaught := 0.0
			for _, s := range inc.sigOrder {
				for _, p := range e.co.entry(sig).partners {
					if p.sig == s && p.n > 1 {
						wantN = max(wantN, p.n)
					}
				}
				if together, ok := e.taught.together[pairOf(sig, s)]; ok && s != sig {
					if !together {
						wantTaught = taughtApart
					} else if wantTaught == 0 {
						wantTaught = taughtTogether
					}
				}
			}
			n, share, taught := e.partners.with(inc)
			if n != wantN || taught != wantTaught {
				t.Fatalf("sig %d, incident %v: with = %d, %v; want %d, %v", sig, inc.sigOrder, n, taught, wantN, wantTaught)
			}
			if want := float64(wantN) / float64(max(e.co.entry(sig).seen, wantN)); wantN > 0 && share != want {
				t.Fatalf("share %v, want %v", share, want)
			}
		}
	}
}
