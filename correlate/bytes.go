package correlate

// trackedOverhead is what the engine holds for a tracked alert besides its
// member record: what relates it to others (alertInfo, its tokens and
// graph nodes), its dedupe state, its places in the indexes and maps.
// Measured (TestStateBytesFollowTheHeap): the heap grows by about this
// plus the member's Size per alert, whatever the alert's labels.
const trackedOverhead = 1600

// incidentOverhead is what an incident holds besides its members: itself,
// its maps, its places in the scope's index, its timers. Measured
// (TestStateBytesFollowTheHeap, an incident an alert): in a storm of
// unrelated alerts it is a third of what the engine holds.
const incidentOverhead = 1400

// memberBytes is what a member alert holds, as MaxStateBytes counts it.
func memberBytes(m *member) int64 { return trackedOverhead + int64(m.Size()) }

// account adds delta bytes to inc and to the engine's total that
// MaxStateBytes bounds (and its StateBudget's); inc is one of e.incidents.
func (e *Engine) account(inc *incident, delta int64) {
	inc.bytes += delta
	e.stateBytes += delta
	if b := e.cfg.StateBudget; b != nil && !e.released {
		b.held.Add(delta)
	}
}
