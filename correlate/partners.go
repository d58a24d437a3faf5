package correlate

import "time"

// partnerTable holds the partners of one alert's signature, learned
// (cooccur) and taught (teaching), prepared once per placement: each
// candidate incident is then weighed by probing its own few signatures in
// this small table, which stays in cache, instead of by a lookup per
// partner in every candidate's state.
type partnerTable struct {
	slots []partnerSlot
	mask  uint64
	seen  uint32 // the signature's own firings (cooccur.seen)
	used  int    // slots used: none, and no incident has a partner worth weighing
}

type partnerSlot struct {
	sig    uint64
	n      uint32 // co-firings
	taught int8   // +1 grouped by a person, -1 set apart, 0 neither
	used   bool
}

// prepare fills the table with the partners of sig.
func (e *Engine) prepare(t *partnerTable, sig uint64) {
	var co []coPartner
	if s := e.co.sigs[sig]; s != nil {
		co, t.seen = s.partners, s.seen
	} else {
		t.seen = 0
	}
	taught := e.taught.partners[sig]
	size := 16
	for size < 2*(len(co)+len(taught)) {
		size *= 2
	}
	if cap(t.slots) < size {
		t.slots = make([]partnerSlot, size)
	}
	t.slots = t.slots[:size]
	clear(t.slots)
	t.mask = uint64(size - 1)
	t.used = len(taught)
	for _, p := range co {
		if p.n > 1 { // one co-firing is no evidence (see weighCofiring)
			t.slot(p.sig).n = p.n
			t.used++
		}
	}
	for _, o := range taught {
		s := t.slot(o)
		s.taught = -1
		if e.taught.together[pairOf(sig, o)] {
			s.taught = 1
		}
	}
}

// slot returns sig's slot, claiming an empty one for it if needed.
func (t *partnerTable) slot(sig uint64) *partnerSlot {
	for i := mix(sig) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			s.sig, s.used = sig, true
			return s
		}
		if s.sig == sig {
			return s
		}
	}
}

// find returns sig's slot, or nil.
func (t *partnerTable) find(sig uint64) *partnerSlot {
	for i := mix(sig) & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if !s.used {
			return nil
		}
		if s.sig == sig {
			return s
		}
	}
}

// cofiring is what the alert's partners say of one incident.
type cofiring struct {
	n       uint32        // co-firings with its strongest partner there, those over one
	share   float64       // n as a share of the signature's firings
	recency float64       // how lately an alert of that partner joined it (see coRecency)
	since   time.Duration // how long ago that was
	taught  float64       // what people said of the two: taughtApart if any pair was set apart, else taughtTogether if any was grouped
}

// with tells what the alert's partners say of inc: its strongest partner
// there is the one with the most co-firings, weighed by coRecency.
func (t *partnerTable) with(inc *incident, now int64) cofiring {
	var c cofiring
	if t.used == 0 {
		return c
	}
	best := 0.0
	for _, sj := range inc.sigs {
		s := t.find(sj.sig)
		if s == nil {
			continue
		}
		since := time.Duration(now - sj.at)
		r := coRecency(since, inc.scope.starts-sj.starts)
		if v := float64(s.n) * r; v > best {
			best, c.n, c.recency, c.since = v, s.n, r, since
		}
		switch {
		case s.taught < 0:
			c.taught = taughtApart
		case s.taught > 0 && c.taught == 0:
			c.taught = taughtTogether
		}
	}
	if c.n > 0 {
		c.share = float64(c.n) / float64(max(t.seen, c.n))
	}
	return c
}

// coRecency weighs a partner by how lately an alert of it joined the
// incident: since long ago, after starts other alerts started firing in
// the scope. Co-firing is learned among the last maxRecent alerts to start
// within coWindow, so it counts in full for a partner that joined within
// either (in a scope where alerts start seldom, a few starts may take
// minutes) and beyond both fades with time, with no cliff. In a small
// system where every alert has fired with every other, the next problem's
// alerts, minutes and many starts after the last one's, would otherwise be
// pulled into its incident.
func coRecency(since time.Duration, starts uint64) float64 {
	if since <= coWindow || starts <= maxRecent {
		return 1
	}
	return float64(coWindow) / float64(since)
}

// mix spreads every bit of a key over all of the result's (MurmurHash3's
// finalizer): tables index by the low ones, aging draws by the high ones
// (see cooccur.age), and keys that differ in a bit or two must not land
// close.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	return k ^ k>>33
}
