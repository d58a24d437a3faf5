package correlate

import (
	"cmp"
	"math/bits"
	"slices"
	"time"
)

// cooccur learns which alert signatures (alertname and subject) fire
// together: each time an alert starts firing, every other signature that
// started within coWindow before it in the same scope counts one
// co-firing. What quell grouped plays no part, so the counts do not
// reinforce its own mistakes; replaying the same alerts rebuilds them.
type cooccur struct {
	sigs    map[uint64]*coSig
	entries int // partner entries held
	seen    int // signatures with firings
	max     int
	// pairs and sigsAt count the partners' counts and the signatures'
	// firings by the bit length they will have halved (see fade), as
	// they change: aging reads them instead of a pass over every entry.
	pairs, sigsAt [33]int
	// changed lists the signatures whose entry changed since the last
	// Changes, while the engine tracks changes: each is a record of its
	// own, so a checkpoint writes what changed. An entry listed since
	// carries the round's mark, so that it is listed once however often it
	// changes: a set of them cost a write for each of the nine or so
	// signatures every new alert touches.
	changed  []uint64
	round    uint32 // from 1; a mark of 0 is no round's
	tracking bool
}

// coSig is what is known of one signature: how often it fired and its
// strongest partners.
type coSig struct {
	seen     uint32
	mark     uint32 // the round it was last listed in changed in (see touch)
	partners []coPartner
	gone     bool // aged out of sigs: who holds it looks it up again
}

type coPartner struct {
	sig uint64
	n   uint32
}

// coWindow: signatures that start firing this close together co-fire.
const coWindow = 2 * time.Minute

// maxPartners bounds what one signature remembers: its strongest partners.
const maxPartners = 32

// recentSig is a signature that started firing in a scope, and when; co is
// its entry, kept so that counting a co-firing needs no lookup.
type recentSig struct {
	sig uint64
	at  time.Time
	co  *coSig
}

// maxRecent bounds the signatures a scope remembers within coWindow: in a
// storm, co-firing is learned among the latest starts only, which keeps
// its cost per alert constant.
const maxRecent = 8

func newCooccur(max int) *cooccur {
	return &cooccur{sigs: map[uint64]*coSig{}, max: max}
}

// entry is sig's entry, made if it has none.
func (c *cooccur) entry(sig uint64) *coSig {
	s := c.sigs[sig]
	if s == nil {
		s = &coSig{}
		c.sigs[sig] = s
	}
	return s
}

// observe counts sig firing at at in sc.
func (c *cooccur) observe(sc *scope, sig uint64, at time.Time) {
	if c.max == 0 {
		return
	}
	own := c.entry(sig)
	c.touch(own, sig)
	sc.starts++
	keep := sc.recentSigs[:0]
	for _, r := range sc.recentSigs {
		if at.Sub(r.at) <= coWindow && r.sig != sig {
			if r.co == nil || r.co.gone {
				r.co = c.entry(r.sig)
			}
			c.add(own, r.sig)
			c.add(r.co, sig)
			c.touch(r.co, r.sig)
			keep = append(keep, r)
		}
	}
	sc.recentSigs = append(keep, recentSig{sig, at, own})
	if len(sc.recentSigs) > maxRecent {
		sc.recentSigs = slices.Delete(sc.recentSigs, 0, len(sc.recentSigs)-maxRecent)
	}
	c.noteSeen(own.seen, own.seen+1)
	if own.seen++; own.seen == 1 {
		c.seen++
	}
	// Aging walks every entry: down to an eighth of the bound, it runs once
	// per seven eighths of the bound learned.
	if c.entries > c.max || c.seen > c.max {
		c.age(c.max / 8)
	}
}

// touch notes that sig's entry s changed, when changes are tracked.
func (c *cooccur) touch(s *coSig, sig uint64) {
	if c.tracking && s.mark != c.round {
		s.mark = c.round
		c.changed = append(c.changed, sig)
	}
}

// track starts listing what changes, from round 1.
func (c *cooccur) track() {
	c.tracking, c.round, c.changed = true, 1, nil
}

// takeChanged calls f with each signature listed as changed and its entry
// (nil once gone), once each, and starts the next round. A signature that
// went and came back within the round is listed once for each entry: the
// one it has now, marked when listed, counts once, and one gone once.
func (c *cooccur) takeChanged(f func(sig uint64, s *coSig)) {
	var gone map[uint64]bool // few: aging drops the weakest
	for _, sig := range c.changed {
		s := c.sigs[sig]
		switch {
		case s == nil && gone[sig], s != nil && s.mark != c.round:
			continue
		case s == nil:
			if gone == nil {
				gone = map[uint64]bool{}
			}
			gone[sig] = true
		default:
			s.mark = 0
		}
		f(sig, s)
	}
	c.changed = c.changed[:0]
	c.round++
}

// takeOver continues what o listed as changed: c was restored from o's
// state, in entries of its own.
func (c *cooccur) takeOver(o *cooccur) {
	c.tracking, c.round, c.changed = o.tracking, o.round, o.changed
	for _, sig := range c.changed {
		if s := c.sigs[sig]; s != nil {
			s.mark = c.round
		}
	}
}

// record copies entry s as its c/ record holds it; false when there is
// nothing to keep (see state).
func (s *coSig) record() (coRecord, bool) {
	if s == nil || s.seen == 0 && len(s.partners) == 0 {
		return coRecord{}, false
	}
	r := coRecord{Seen: s.seen}
	if len(s.partners) > 0 {
		r.With, r.N = make([]uint64, len(s.partners)), make([]uint32, len(s.partners))
		for i, p := range s.partners {
			r.With[i], r.N[i] = p.sig, p.n
		}
	}
	return r, true
}

// add adds one co-firing of b to s's partners; a full list gives up its
// weakest partner for a new one.
func (c *cooccur) add(s *coSig, b uint64) {
	ps := s.partners
	weakest := -1
	for i := range ps {
		if ps[i].sig == b {
			c.notePair(ps[i].n, ps[i].n+1)
			ps[i].n++
			return
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
		s.partners = append(ps, coPartner{b, 1})
		c.notePair(0, 1)
		return
	}
	c.notePair(ps[weakest].n, 1)
	ps[weakest] = coPartner{b, 1}
}

// fade is the bit length of n halved: what aging sorts counts by.
func fade(n uint32) int { return bits.Len32(halved(n)) }

// notePair and noteSeen move a partner's count, or a signature's
// firings, from was to now in pairs or sigsAt (0: none).
func (c *cooccur) notePair(was, now uint32) { note(&c.pairs, was, now) }
func (c *cooccur) noteSeen(was, now uint32) { note(&c.sigsAt, was, now) }

func note(hist *[33]int, was, now uint32) {
	if was > 0 {
		hist[fade(was)]--
	}
	if now > 0 {
		hist[fade(now)]++
	}
}

// age makes room once the table holds more than max entries or
// signatures: every count halves, rounding up, so that old habits fade,
// and the weakest go until at most keep of each are left: the least
// counted first (by powers of two), and of those counted alike a share
// picked by their hash, so that a replay drops the same ones. Halving to
// zero instead dropped everything at once in a storm of signatures that
// each co-fired once lately, and again every few thousand alerts, so that
// nothing was learned.
func (c *cooccur) age(keep int) {
	dropPair, dropSig := weakest(&c.pairs, c.entries-keep), weakest(&c.sigsAt, c.seen-keep)
	c.pairs, c.sigsAt = [33]int{}, [33]int{} // counted anew as the counts halve
	// Which of those counted alike go is drawn anew each time (the count
	// of entries seeds it), or the ones spared once would be spared always.
	round := mix(uint64(c.entries))
	for k, s := range c.sigs {
		changed := halved(s.seen) != s.seen
		kept := s.partners[:0]
		for _, p := range s.partners {
			n := halved(p.n)
			changed = changed || n != p.n
			if !dropPair.drops(n, mix(k^mix(p.sig^round))) {
				kept = append(kept, coPartner{p.sig, n})
				c.notePair(0, n)
			}
		}
		changed = changed || len(kept) < len(s.partners)
		c.entries -= len(s.partners) - len(kept)
		s.partners = kept
		// A signature left with no partner, seen at most twice since it
		// last aged, has taught nothing: it goes with the weakest.
		if s.seen = halved(s.seen); s.seen > 0 && (len(kept) == 0 && s.seen == 1 || dropSig.drops(s.seen, mix(k^round))) {
			s.seen = 0
			c.seen--
			changed = true
		}
		c.noteSeen(0, s.seen)
		if len(kept) == 0 {
			s.partners = nil
			if s.seen == 0 {
				s.gone, changed = true, true
				delete(c.sigs, k)
			}
		}
		if changed { // a checkpoint writes what changed
			c.touch(s, k)
		}
	}
}

// halved is half of n, rounded up: a count fades but does not vanish.
func halved(n uint32) uint32 { return n - n/2 }

// cut drops the counts of fewer bits than bits, and a share (of 2^64) of
// those of bits.
type cut struct {
	bits  int
	share uint64
}

func (c cut) drops(n uint32, hash uint64) bool {
	b := bits.Len32(n)
	return b < c.bits || b == c.bits && hash < c.share
}

// weakest is the cut that drops excess of the counts hist holds (how many
// have each bit length), the least first.
func weakest(hist *[33]int, excess int) cut {
	if excess <= 0 {
		return cut{}
	}
	for b, n := range hist {
		if n > excess {
			return cut{b, uint64(float64(excess) / float64(n) * (1 << 64))}
		}
		excess -= n
	}
	return cut{len(hist), 0}
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
	s := CooccurState{Seen: make(map[uint64]uint32, c.seen), Partners: make([]CoPartners, 0, len(c.sigs))}
	with, n := make([]uint64, 0, c.entries), make([]uint32, 0, c.entries)
	for sig, cs := range c.sigs {
		if cs.seen > 0 {
			s.Seen[sig] = cs.seen
		}
		if len(cs.partners) == 0 {
			continue
		}
		lo := len(with)
		for _, p := range cs.partners {
			with, n = append(with, p.sig), append(n, p.n)
		}
		s.Partners = append(s.Partners, CoPartners{Sig: sig, With: with[lo:len(with):len(with)], N: n[lo:len(n):len(n)]})
	}
	slices.SortFunc(s.Partners, func(a, b CoPartners) int { return cmp.Compare(a.Sig, b.Sig) })
	return s
}

func (c *cooccur) restore(s CooccurState) {
	for _, cp := range s.Partners {
		e := c.entry(cp.Sig)
		for i := range min(len(cp.With), len(cp.N)) {
			e.partners = append(e.partners, coPartner{cp.With[i], cp.N[i]})
			c.notePair(0, cp.N[i])
			c.entries++
		}
	}
	for k, n := range s.Seen {
		e := c.entry(k)
		if e.seen == 0 && n > 0 {
			c.seen++
		}
		c.noteSeen(e.seen, n)
		e.seen = n
	}
}
