package quality

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/quellhq/quell/correlate"
)

func TestZZHash(t *testing.T) {
	var sets []Set
	for _, k := range []int{1, 3} {
		s, err := MicroSS(k)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, s)
	}
	for _, f := range Families {
		sets = append(sets, Storm(f, 3, 1))
	}
	for _, s := range sets {
		ds, err := Replay(s, correlate.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, d := range ds {
			b, _ := json.Marshal(d)
			h.Write(b)
		}
		fmt.Printf("HASH %s %s %d %d %x\n", s.Data, s.Family, s.Overlay, len(ds), h.Sum(nil)[:8])
	}
}
