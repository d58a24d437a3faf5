package correlate

// tokenCount is how many members carry one token, as each kind of token.
type tokenCount [tokenKinds]int32

// none tells whether no member carries the token. Counts are never
// negative, so their bits or to zero only when all are zero; comparing the
// array with a zero one calls memequal, in the table's innermost loop.
func (c *tokenCount) none() bool {
	var or int32
	for _, n := range c {
		or |= n
	}
	return or == 0
}

type tokenKind uint8

const (
	asValue    tokenKind = iota // an entity value
	asSubject                   // an entity value a member is about
	asWorkload                  // the workload (not machine) a member is about
	asName                      // an alertname
	asWord                      // a summary word
	tokenKinds
)

// tokenTable counts the tokens an incident's members carry. A token is a
// hash already (xxhash of what it names), so the table is open addressing
// on the token itself: a lookup is a probe or two in one array, where a map
// hashes the token again and chases its groups, and weighing an alert
// looks up every token of it in every candidate. A slot is empty when its
// count is zero: a token no member carries any more is taken out.
type tokenTable struct {
	slots []tokenSlot // a power of two, at most three quarters used
	n     int
}

type tokenSlot struct {
	t  uint64
	c  tokenCount
	at int64 // when a member carrying it was last seen (UnixNano; see heard)
}

// get is t's count (zero when no member carries it).
func (tt *tokenTable) get(t uint64) tokenCount {
	if s := tt.find(t); s != nil {
		return s.c
	}
	return tokenCount{}
}

// find is t's slot, or nil.
func (tt *tokenTable) find(t uint64) *tokenSlot {
	if tt.n == 0 {
		return nil
	}
	if s := &tt.slots[tt.probe(t)]; !s.c.none() {
		return s
	}
	return nil
}

// probe is the index of t's slot or, when t is not held, of the empty slot
// that ends its run, where t would go.
func (tt *tokenTable) probe(t uint64) uint64 {
	mask := uint64(len(tt.slots) - 1)
	i := t & mask
	for !tt.slots[i].c.none() && tt.slots[i].t != t {
		i = (i + 1) & mask
	}
	return i
}

// add adds delta to t's count as kind k, and as kind also unless it is k,
// and returns the count.
func (tt *tokenTable) add(t uint64, delta int32, k, also tokenKind) tokenCount {
	if 4*(tt.n+1) > 3*len(tt.slots) {
		tt.grow()
	}
	i := tt.probe(t)
	s := &tt.slots[i]
	if s.c.none() {
		s.t = t
		tt.n++
	}
	s.c[k] += delta
	if also != k {
		s.c[also] += delta
	}
	c := s.c
	if c.none() {
		tt.n--
		tt.close(i)
	}
	return c
}

// close fills the slot at i, just emptied, with a later token of the same
// run that may move there (backward shift), so that no lookup stops short
// of a token it seeks.
func (tt *tokenTable) close(i uint64) {
	mask := uint64(len(tt.slots) - 1)
	for j := (i + 1) & mask; !tt.slots[j].c.none(); j = (j + 1) & mask {
		// The token at j may move to i unless its home lies in (i, j].
		if home := tt.slots[j].t & mask; (j-home)&mask >= (j-i)&mask {
			tt.slots[i] = tt.slots[j]
			i = j
		}
	}
	tt.slots[i] = tokenSlot{}
}

// grow doubles the table, from 8 slots: an incident of one alert keeps
// its values and its names in two such, no more than one table of 16 took.
func (tt *tokenTable) grow() {
	old := tt.slots
	tt.slots = make([]tokenSlot, max(8, 2*len(old)))
	for _, s := range old {
		if !s.c.none() {
			tt.slots[tt.probe(s.t)] = s
		}
	}
}

// each calls f with every token held.
func (tt *tokenTable) each(f func(uint64)) {
	for _, s := range tt.slots {
		if !s.c.none() {
			f(s.t)
		}
	}
}
