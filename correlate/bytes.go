package correlate

import "github.com/quellhq/quell"

// memberBytes is what a member alert holds, as MaxStateBytes counts it.
func memberBytes(m *quell.IncidentAlert) int64 { return int64(m.Size()) }

// account adds delta bytes to inc and to the engine's total that
// MaxStateBytes bounds; inc is one of e.incidents.
func (e *Engine) account(inc *incident, delta int64) {
	inc.bytes += delta
	e.stateBytes += delta
}
