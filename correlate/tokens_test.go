package correlate

import (
	"math/rand/v2"
	"testing"
)

// TestTokenTableCountsAsAMap adds and takes away tokens at random, many of
// them with the same low bits so that they crowd into runs that wrap the
// table's end, and checks every count against a map's.
func TestTokenTableCountsAsAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tt tokenTable
	want := map[uint64]tokenCount{}
	tokens := make([]uint64, 200)
	for i := range tokens {
		tokens[i] = uint64(r.IntN(8))<<40 | uint64(r.IntN(4)*15) // homes 0, 15, 30, 45: neighbours and wraps
	}
	removed := 0
	for step := range 20000 {
		tok := tokens[r.IntN(len(tokens))]
		k := tokenKind(r.IntN(2)) // few kinds: counts often fall back to zero
		delta := int32(1)
		if c := want[tok]; c[k] > 0 && r.IntN(5) < 3 {
			delta = -1
		}
		c := want[tok]
		c[k] += delta
		if c == (tokenCount{}) {
			delete(want, tok)
			removed++
		} else {
			want[tok] = c
		}
		if got := tt.add(tok, delta, k, k); got != c {
			t.Fatalf("step %d: add(%x) = %v, want %v", step, tok, got, c)
		}
		if tt.n != len(want) {
			t.Fatalf("step %d: %d tokens held, want %d", step, tt.n, len(want))
		}
		for _, tok := range tokens {
			if got := tt.get(tok); got != want[tok] {
				t.Fatalf("step %d: get(%x) = %v, want %v", step, tok, got, want[tok])
			}
		}
	}
	if len(want) < 20 || removed < 300 {
		t.Fatalf("%d tokens held at the end, %d taken out: the test did not crowd the table", len(want), removed)
	}
}
