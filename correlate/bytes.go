package correlate

import "github.com/quellhq/quell"

// memberOverhead and entryOverhead are what a member alert and each of its
// label or annotation entries cost beyond their strings' bytes (struct,
// map buckets, string headers): an estimate, so that many small alerts
// count too.
const (
	memberOverhead = 256
	entryOverhead  = 48
)

// memberBytes estimates what a member alert holds in memory.
func memberBytes(m *quell.IncidentAlert) int64 {
	n := memberOverhead + len(m.Reason)
	for _, kv := range []map[string]string{m.Labels, m.Annotations} {
		for k, v := range kv {
			n += entryOverhead + len(k) + len(v)
		}
	}
	return int64(n)
}

// account adds delta bytes to inc and, while it is in memory, to the
// engine's total that MaxStateBytes bounds.
func (e *Engine) account(inc *incident, delta int64) {
	inc.bytes += delta
	if e.incidents[inc.id] == inc {
		e.stateBytes += delta
	}
}
