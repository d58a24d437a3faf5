package correlate

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// cooccur learns which alert signatures (alertname and subject) fire
// together: each time an alert starts firing, every other signature that
// started within coWindow before it in the same scope counts one
// co-firing. What quell grouped plays no part, so the counts do not
// reinforce its own mistakes; replaying the same alerts rebuilds them.
type cooccur struct {
	partners map[uint64][]coPartner // per signature, its strongest partners
	seen     map[uint64]uint32      // firings per signature
	entries  int                    // partner entries held
	max      int
}

type coPartner struct {
	sig uint64
	n   uint32
}

// coWindow: signatures that start firing this close together co-fire.
const coWindow = 2 * time.Minute

// maxPartners bounds what one signature remembers: its strongest partners.
const maxPartners = 32

// recentSig is a signature that started firing in a scope, and when.
type recentSig struct {
	sig uint64
	at  time.Time
}

// maxRecent bounds the signatures a scope remembers within coWindow: in a
// storm, co-firing is learned among the latest starts only, which keeps
// its cost per alert constant.
const maxRecent = 8

func newCooccur(max int) *cooccur {
	return &cooccur{partners: map[uint64][]coPartner{}, seen: map[uint64]uint32{}, max: max}
}

// observe counts sig firing at at in sc.
func (c *cooccur) observe(sc *scope, sig uint64, at time.Time) {
	if c.max == 0 {
		return
	}
	keep := sc.recentSigs[:0]
	own := c.partners[sig]
	had := len(own)
	for _, r := range sc.recentSigs {
		if at.Sub(r.at) <= coWindow && r.sig != sig {
			keep = append(keep, r)
			own = c.add(own, r.sig)
			c.count(r.sig, sig)
		}
	}
	if len(own) != had { // counts change in place
		c.partners[sig] = own
	}
	sc.recentSigs = append(keep, recentSig{sig, at})
	if len(sc.recentSigs) > maxRecent {
		sc.recentSigs = slices.Delete(sc.recentSigs, 0, len(sc.recentSigs)-maxRecent)
	}
	c.seen[sig]++
	if c.entries > c.max || len(c.seen) > c.max {
		c.age()
	}
}

// count adds one co-firing of b to a's partners.
func (c *cooccur) count(a, b uint64) {
	ps := c.partners[a]
	if more := c.add(ps, b); len(more) != len(ps) { // counts change in place
		c.partners[a] = more
	}
}

// add adds one co-firing of b to ps, a signature's partners, and returns
// them; a full list gives up its weakest partner for a new one.
func (c *cooccur) add(ps []coPartner, b uint64) []coPartner {
	weakest := -1
	for i := range ps {
		if ps[i].sig == b {
			ps[i].n++
			return ps
		}
		if weakest < 0 || ps[i].n < ps[weakest].n {
			weakest = i
		}
	}
	if len(ps) < maxPartners {
		c.entries++
		if len(ps) == cap(ps) {
			// A signature that starts firing meets several at once: grow by
			// more than one.
			ps = slices.Grow(ps, min(maxPartners, max(maxRecent, 2*len(ps)))-len(ps))
		}
		return append(ps, coPartner{b, 1})
	}
	ps[weakest] = coPartner{b, 1}
	return ps
}

// age halves every count and drops what reaches zero: old habits fade
// and memory stays bounded.
func (c *cooccur) age() {
	for k, ps := range c.partners {
		keep := ps[:0]
		for _, p := range ps {
			if p.n /= 2; p.n > 0 {
				keep = append(keep, p)
			}
		}
		c.entries -= len(ps) - len(keep)
		if len(keep) == 0 {
			delete(c.partners, k)
		} else {
			c.partners[k] = keep
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

// CooccurState is what an engine learned of co-firing, for snapshots.
type CooccurState struct {
	Partners []CoPartners      `json:"partners,omitempty"`
	Seen     map[uint64]uint32 `json:"seen,omitempty"`
}

// CoPartners are one signature's partners and how often each co-fired.
type CoPartners struct {
	Sig  uint64   `json:"sig"`
	With []uint64 `json:"with"`
	N    []uint32 `json:"n"`
}

func (c *cooccur) state() CooccurState {
	// A copy: the state is written while the engine goes on. The partners'
	// lists are cut from two arrays, not grown one by one: a busy engine
	// copies this at every checkpoint.
	s := CooccurState{Seen: maps.Clone(c.seen), Partners: make([]CoPartners, 0, len(c.partners))}
	with, n := make([]uint64, 0, c.entries), make([]uint32, 0, c.entries)
	for sig, ps := range c.partners {
		lo := len(with)
		for _, p := range ps {
			with, n = append(with, p.sig), append(n, p.n)
		}
		s.Partners = append(s.Partners, CoPartners{Sig: sig, With: with[lo:len(with):len(with)], N: n[lo:len(n):len(n)]})
	}
	slices.SortFunc(s.Partners, func(a, b CoPartners) int { return cmp.Compare(a.Sig, b.Sig) })
	return s
}

func (c *cooccur) restore(s CooccurState) {
	for _, cp := range s.Partners {
		for i := range min(len(cp.With), len(cp.N)) {
			c.partners[cp.Sig] = append(c.partners[cp.Sig], coPartner{cp.With[i], cp.N[i]})
			c.entries++
		}
	}
	for k, n := range s.Seen {
		c.seen[k] = n
	}
}
