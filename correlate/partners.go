package correlate

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

// with returns the co-firings of the alert's signature with its strongest
// partner among the incident's signatures, that count as a share of the
// signature's firings, and what people said of the two: apart if any pair
// was set apart, else together if any was grouped.
func (t *partnerTable) with(inc *incident) (n uint32, share, taught float64) {
	if t.used == 0 {
		return 0, 0, 0
	}
	for _, sig := range inc.sigOrder {
		s := t.find(sig)
		if s == nil {
			continue
		}
		n = max(n, s.n)
		switch {
		case s.taught < 0:
			taught = taughtApart
		case s.taught > 0 && taught == 0:
			taught = taughtTogether
		}
	}
	if n > 0 {
		share = float64(n) / float64(max(t.seen, n))
	}
	return n, share, taught
}

// mix spreads a key's bits over the low ones, which index tables.
func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	return k ^ k>>33
}
