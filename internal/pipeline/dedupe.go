package pipeline

import (
	"sync"

	"github.com/quellhq/quell"
)

// Dedupe drops redelivered copies before they reach the sinks in split
// mode. Copies arise when the correlator replays records after its last
// snapshot (a crash, a rebalance) and when a stage is redelivered a batch
// it had not committed. A replayed decision is byte for byte the original
// (the correlator is deterministic over its log), so a decision's identity
// is a hash of what it says: alert fingerprint, its occurrence time, action,
// incident and reason (which counts repeats). A change's identity is its
// incident id and seq, which grows with every change of that incident.
//
// Memory is bounded: it remembers about the last limit decisions and the
// last seq of about limit incidents, far more than one replay can repeat.
// A sink that must be idempotent across sink-stage restarts keys its own
// writes the same way (ClickHouse: a ReplacingMergeTree on these keys).
type Dedupe struct {
	mu         sync.Mutex
	limit      int
	seen, old  map[uint64]struct{}
	seqs, olds map[string]uint64
	batch      map[uint64]struct{} // the identities of one FreshDecisions call
}

// NewDedupe remembers about limit decisions and incidents.
func NewDedupe(limit int) *Dedupe {
	return &Dedupe{limit: limit, seen: map[uint64]struct{}{}, seqs: map[string]uint64{}, batch: map[uint64]struct{}{}}
}

// FreshDecisions returns the decisions not seen before (nor twice in ds),
// and delivered, to call once the sinks hold them. The fresh ones are
// moved to the front of ds, whose array they share: a copy of each batch
// was a sixth of what the sink stage allocated.
func (d *Dedupe) FreshDecisions(ds []quell.Decision) (fresh []quell.Decision, delivered func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := ds[:0]
	// Each identity is hashed once, here: delivered marks these.
	ids := make([]uint64, 0, len(ds))
	batch := d.batch
	clear(batch)
	for i := range ds {
		id := ds[i].ID()
		if _, ok := d.seen[id]; ok {
			continue
		}
		if _, ok := d.old[id]; ok {
			continue
		}
		if _, ok := batch[id]; ok {
			continue
		}
		batch[id] = struct{}{}
		out = append(out, ds[i])
		ids = append(ids, id)
	}
	return out, func() { d.markDecisions(ids) }
}

func (d *Dedupe) markDecisions(ids []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		if len(d.seen) >= d.limit {
			d.old, d.seen = d.seen, make(map[uint64]struct{}, d.limit)
		}
		d.seen[id] = struct{}{}
	}
}

// FreshChanges returns the changes newer than any delivered for their
// incident, moved to the front of cs, and delivered, to call once the
// sinks hold them.
func (d *Dedupe) FreshChanges(cs []quell.IncidentChange) (fresh []quell.IncidentChange, delivered func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := cs[:0]
	batch := map[string]uint64{}
	for _, c := range cs {
		last, ok := batch[c.Incident.ID]
		if !ok {
			last = d.lastSeq(c.Incident.ID)
		}
		if c.Seq <= last {
			continue
		}
		batch[c.Incident.ID] = c.Seq
		out = append(out, c)
	}
	return out, func() { d.markChanges(out) }
}

func (d *Dedupe) lastSeq(id string) uint64 {
	if s, ok := d.seqs[id]; ok {
		return s
	}
	return d.olds[id]
}

func (d *Dedupe) markChanges(cs []quell.IncidentChange) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range cs {
		if _, ok := d.seqs[c.Incident.ID]; !ok && len(d.seqs) >= d.limit {
			d.olds, d.seqs = d.seqs, make(map[string]uint64, d.limit)
		}
		if c.Seq > d.lastSeq(c.Incident.ID) {
			d.seqs[c.Incident.ID] = c.Seq
		}
	}
}
