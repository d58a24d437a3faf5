package correlate

import (
	"slices"
	"time"
)

// cooccur learns which alert signatures (alertname and subject) fire
// together: each time an alert starts firing, every other signature that
// started within coWindow before it in the same scope counts one
// co-firing. What quell grouped plays no part, so the counts do not
// reinforce its own mistakes; replaying the same alerts rebuilds them.
type cooccur struct {
	pairs map[[2]uint64]uint32
	seen  map[uint64]uint32 // firings per signature
	max   int
}

// coWindow: signatures that start firing this close together co-fire.
const coWindow = 2 * time.Minute

// recentSig is a signature that started firing in a scope, and when.
type recentSig struct {
	sig uint64
	at  time.Time
}

// maxRecent bounds the signatures a scope remembers within coWindow.
const maxRecent = 128

func newCooccur(max int) *cooccur {
	return &cooccur{pairs: map[[2]uint64]uint32{}, seen: map[uint64]uint32{}, max: max}
}

func pairKey(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// observe counts sig firing at at in sc.
func (c *cooccur) observe(sc *scope, sig uint64, at time.Time) {
	if c.max == 0 {
		return
	}
	keep := sc.recentSigs[:0]
	for _, r := range sc.recentSigs {
		if at.Sub(r.at) <= coWindow && r.sig != sig {
			keep = append(keep, r)
			c.pairs[pairKey(sig, r.sig)]++
		}
	}
	sc.recentSigs = append(keep, recentSig{sig, at})
	if len(sc.recentSigs) > maxRecent {
		sc.recentSigs = slices.Delete(sc.recentSigs, 0, len(sc.recentSigs)-maxRecent)
	}
	c.seen[sig]++
	if len(c.pairs) > c.max || len(c.seen) > c.max {
		c.age()
	}
}

// age halves every count and drops what reaches zero: old habits fade
// and memory stays bounded.
func (c *cooccur) age() {
	for k, n := range c.pairs {
		if n/2 == 0 {
			delete(c.pairs, k)
		} else {
			c.pairs[k] = n / 2
		}
	}
	for k, n := range c.seen {
		if n/2 == 0 {
			delete(c.seen, k)
		} else {
			c.seen[k] = n / 2
		}
	}
}

// with returns how often sig co-fired with the best of sigs, and that
// count as a share of sig's firings.
func (c *cooccur) with(sig uint64, sigs []uint64) (best uint64, n uint32, share float64) {
	for _, s := range sigs {
		if s == sig {
			continue
		}
		if k := c.pairs[pairKey(sig, s)]; k > n || k == n && k > 0 && s < best {
			best, n = s, k
		}
	}
	if n > 0 {
		share = float64(n) / float64(max(c.seen[sig], n))
	}
	return best, n, share
}

// CooccurState is what an engine learned of co-firing, for snapshots.
type CooccurState struct {
	Pairs []CoPair          `json:"pairs,omitempty"`
	Seen  map[uint64]uint32 `json:"seen,omitempty"`
}

// CoPair is how often two signatures fired together.
type CoPair struct {
	A, B uint64
	N    uint32
}

func (c *cooccur) state() CooccurState {
	s := CooccurState{Seen: c.seen}
	for k, n := range c.pairs {
		s.Pairs = append(s.Pairs, CoPair{k[0], k[1], n})
	}
	return s
}

func (c *cooccur) restore(s CooccurState) {
	for _, p := range s.Pairs {
		c.pairs[pairKey(p.A, p.B)] = p.N
	}
	for k, n := range s.Seen {
		c.seen[k] = n
	}
}
