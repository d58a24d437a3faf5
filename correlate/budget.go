package correlate

import (
	"fmt"
	"sync/atomic"
)

// StateBudget is MaxStateBytes shared by the engines of one process: split
// mode runs an engine a partition, and the correlator's share of
// memory_limit bounds them together, not each. Every engine counts what
// its incidents hold into it; one that finds the engines over the bound
// evicts its own least active incidents while it holds more than its fair
// part, so that a partition under its part is not emptied for another's
// storm, and an idle one over its part gives back at its next clock tick.
type StateBudget struct {
	held    atomic.Int64
	engines atomic.Int64
}

// Held is what the engines sharing b hold, in MaxStateBytes's count.
func (b *StateBudget) Held() int64 { return b.held.Load() }

// overBytes tells whether the engine must evict for MaxStateBytes.
func (e *Engine) overBytes() bool {
	limit := e.cfg.MaxStateBytes
	b := e.cfg.StateBudget
	switch {
	case limit <= 0:
		return false
	case b == nil:
		return e.stateBytes > limit
	}
	return b.held.Load() > limit && e.stateBytes > limit/max(1, b.engines.Load())
}

// overBytesWhy words the bound overBytes found passed, for eviction records.
func (e *Engine) overBytesWhy() string {
	if b := e.cfg.StateBudget; b != nil {
		return fmt.Sprintf("the correlator's incidents may hold %d bytes (a share of memory_limit) and held %d, this partition's %d",
			e.cfg.MaxStateBytes, b.Held(), e.stateBytes)
	}
	return fmt.Sprintf("its incidents' alerts may hold %d bytes (a share of memory_limit) and held %d", e.cfg.MaxStateBytes, e.stateBytes)
}

// Release gives back what the engine counted in its StateBudget, once it
// is dropped (its partition went to another process, or was closed).
func (e *Engine) Release() {
	if b := e.cfg.StateBudget; b != nil && !e.released {
		e.released = true
		b.held.Add(-e.stateBytes)
		b.engines.Add(-1)
	}
}

// StateBytes is what the engine's incidents and alerts hold, as
// MaxStateBytes counts it.
func (e *Engine) StateBytes() int64 { return e.stateBytes }
