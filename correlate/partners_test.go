package correlate

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPartnerTable compares what the prepared table says of incidents
// with the counts (those over one: one co-firing is no evidence), weighed
// by how long ago each partner joined, and teachings it was prepared from,
// pair by pair.
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
			const now, started = int64(time.Hour), 1000
			inc := &incident{scope: &scope{starts: started}}
			for range rng.IntN(maxSigs) {
				inc.noteSig(sigJoin{uint64(rng.IntN(sigs) + 1), now - rng.Int64N(int64(8*time.Minute)), started - uint64(rng.IntN(20))})
			}
			var wantN uint32
			var wantSince time.Duration
			best, wantTaught := 0.0, 0.0
			for _, sj := range inc.sigs {
				s := sj.sig
				since := time.Duration(now - sj.at)
				recency := 1.0
				if since > coWindow && started-sj.starts > maxRecent {
					recency = float64(coWindow) / float64(since)
				}
				for _, p := range e.co.entry(sig).partners {
					if v := float64(p.n) * recency; p.sig == s && p.n > 1 && v > best {
						best, wantN, wantSince = v, p.n, since
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
			c := e.partners.with(inc, now)
			if c.n != wantN || c.since != wantSince || c.taught != wantTaught {
				t.Fatalf("sig %d, incident %v: with = %+v; want %d, %v, %v", sig, inc.sigs, c, wantN, wantSince, wantTaught)
			}
			if want := float64(wantN) / float64(max(e.co.entry(sig).seen, wantN)); wantN > 0 && c.share != want {
				t.Fatalf("share %v, want %v", c.share, want)
			}
		}
	}
}
