package correlate

import "slices"

// teaching is what people taught by merging and moving (see Feedback):
// pairs of alert signatures that belong together (a merge, a move into an
// incident) or apart (a move out of one). A person's word outweighs what
// the engine weighs on its own (taughtTogether, taughtApart), so the same
// alerts later group as they said. Only the latest word on a pair counts.
type teaching struct {
	together map[sigPair]bool
	partners map[uint64][]uint64 // each taught signature's pairs, both ways
	order    []sigPair           // oldest first: past maxTaught the oldest is forgotten
	version  uint64              // counts what was taught (see graph.version)
}

type sigPair struct{ a, b uint64 } // a < b

func pairOf(x, y uint64) sigPair {
	if x > y {
		x, y = y, x
	}
	return sigPair{x, y}
}

// maxTaught bounds the pairs remembered (a few MB): one merge of two large
// incidents teaches at most maxSigs² of them.
const maxTaught = 1 << 16

// Evidence of a person's word, in nats: together pulls in as strongly as
// an alert's own former incident does; apart outweighs any other evidence.
const (
	taughtTogether = 4.0
	taughtApart    = -8.0
)

func newTeaching() *teaching {
	return &teaching{together: map[sigPair]bool{}, partners: map[uint64][]uint64{}}
}

// teach records that every signature of xs belongs with (together) or
// apart from every signature of ys.
func (e *Engine) teach(xs, ys []uint64, together bool) {
	for _, x := range xs {
		for _, y := range ys {
			if x != y {
				e.taught.set(pairOf(x, y), together)
			}
		}
	}
}

func (t *teaching) set(p sigPair, together bool) {
	t.version++
	if _, ok := t.together[p]; ok {
		t.together[p] = together
		return
	}
	t.together[p] = together
	t.partners[p.a] = append(t.partners[p.a], p.b)
	t.partners[p.b] = append(t.partners[p.b], p.a)
	t.order = append(t.order, p)
	if len(t.order) > maxTaught {
		t.forget(t.order[0])
		t.order = t.order[1:] // append reallocates in time: O(1) a pair, not a shift of the whole list
	}
}

func (t *teaching) forget(p sigPair) {
	delete(t.together, p)
	drop := func(x, y uint64) {
		ps := slices.DeleteFunc(t.partners[x], func(v uint64) bool { return v == y })
		if len(ps) == 0 {
			delete(t.partners, x)
		} else {
			t.partners[x] = ps
		}
	}
	drop(p.a, p.b)
	drop(p.b, p.a)
}

// TaughtPair is one pair of signatures a person grouped or set apart.
type TaughtPair struct {
	A        uint64 `json:"a"`
	B        uint64 `json:"b"`
	Together bool   `json:"together"`
}

func (t *teaching) state() []TaughtPair {
	out := make([]TaughtPair, 0, len(t.order))
	for _, p := range t.order {
		out = append(out, TaughtPair{p.a, p.b, t.together[p]})
	}
	return out
}

func (t *teaching) restore(ps []TaughtPair) {
	for _, p := range ps {
		t.set(pairOf(p.A, p.B), p.Together)
	}
}
