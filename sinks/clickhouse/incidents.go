package clickhouse

import (
	"math"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
)

// incidentInserts lays a batch of incident changes out as rows of
// incidents (latest state), incident_changes (history) and
// incident_members. Every change lists all members, so members are written
// once per batch, and not at all when stored already says so (a row
// written twice is harmless: merges keep the first).
func incidentInserts(cs []quell.IncidentChange, stored memberLog) []insert {
	batch := memberLog{}
	n := len(cs)
	var (
		ids      = make([]string, 0, n)
		seqs     = make([]uint64, 0, n)
		kinds    = make([]string, 0, n)
		stats    = make([]string, 0, n)
		titles   = make([]string, 0, n)
		sevs     = make([]string, 0, n)
		counts   = make([]uint32, 0, n)
		sigs     = make([]string, 0, n)
		changed  stamp
		created  stamp
		updated  stamp
		resolved stamp

		mIDs, mFps, mSrcs, mReasons []string
		mJoined                     stamp
		mVersions                   []uint64
	)
	for i := range cs {
		c, inc := &cs[i], &cs[i].Incident
		ids = append(ids, inc.ID)
		seqs = append(seqs, c.Seq)
		kinds = append(kinds, string(c.Kind))
		stats = append(stats, storedStatus(inc))
		titles = append(titles, inc.Title)
		sevs = append(sevs, string(inc.Severity))
		counts = append(counts, uint32(len(inc.Alerts)))
		sigs = append(sigs, correlate.Signature(inc))
		changed.add(c.At)
		created.add(inc.CreatedAt)
		updated.add(inc.UpdatedAt)
		resolved.add(inc.ResolvedAt)
		for _, m := range inc.Alerts {
			if stored.has(inc.ID, m.Fingerprint) || batch.has(inc.ID, m.Fingerprint) {
				continue
			}
			batch.add(inc.ID, m.Fingerprint)
			mIDs = append(mIDs, inc.ID)
			mFps = append(mFps, m.Fingerprint.String())
			mSrcs = append(mSrcs, m.Source)
			mReasons = append(mReasons, m.Reason)
			mJoined.add(c.At)
			mVersions = append(mVersions, math.MaxUint64-c.Seq)
		}
	}
	state := func(cols ...column) []column {
		cols = append(cols, column{"status", stats}, column{"title", titles}, column{"severity", sevs})
		cols = append(cols, created.cols("created_at")...)
		cols = append(cols, updated.cols("updated_at")...)
		cols = append(cols, resolved.cols("resolved_at")...)
		return append(cols, column{"alert_count", counts})
	}
	incidents := insert{table: "incidents", rows: n, cols: append(state(column{"incident_id", ids}, column{"seq", seqs}), column{"signature", sigs})}
	history := insert{table: "incident_changes", rows: n,
		cols: state(append([]column{{"incident_id", ids}, {"seq", seqs}, {"kind", kinds}}, changed.cols("changed_at")...)...)}
	members := insert{table: "incident_members", rows: len(mIDs), cols: []column{
		{"incident_id", mIDs}, {"fingerprint", mFps}, {"source", mSrcs}, {"reason", mReasons},
	}}
	members.cols = append(members.cols, mJoined.cols("joined_at")...)
	members.cols = append(members.cols, column{"first_seq_inv", mVersions})
	return []insert{incidents, history, members}
}

// storedStatus is an incident's status as its rows hold it: "evicted" for
// one the memory bound evicted. Its status says resolved, but its alerts did
// not resolve: counted so, a flood's evictions would make MTTR seconds.
func storedStatus(inc *quell.Incident) string {
	if inc.Evicted {
		return "evicted"
	}
	return string(inc.Status)
}
