package ingest

import (
	"bytes"
	"runtime"
	"testing"
)

// TestArenaWastesLittle: a big alert's strings (100 values of 4 KiB, the
// first guess 1 KiB) cost little more than their bytes, not the doubling
// buffers' sum.
func TestArenaWastesLittle(t *testing.T) {
	value := bytes.Repeat([]byte("x"), 4096)
	var a arena
	var kept []string
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	a.reset(arenaGuess)
	for range 100 {
		kept = append(kept, a.str(value))
	}
	runtime.ReadMemStats(&after)
	data := uint64(100 * len(value))
	if got := after.TotalAlloc - before.TotalAlloc; got > data+data/4 {
		t.Fatalf("%d bytes allocated for %d bytes of strings", got, data)
	}
	for _, s := range kept {
		if s != string(value) {
			t.Fatal("a string changed after later ones were handed out")
		}
	}
}
