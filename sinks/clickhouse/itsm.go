package clickhouse

import (
	"context"
	"time"

	"github.com/cespare/xxhash/v2"
)

// ITSMEvent is something an ITSM tool did with an incident. The analytics
// read it for MTTA and for telling alerts that resolved on their own from
// those someone acted on.
type ITSMEvent struct {
	IncidentID string
	// System names the tool: servicenow, jira, pagerduty, ...
	System string
	// Kind is acknowledged, assigned or resolved.
	Kind  string
	Actor string
	At    time.Time
}

// WriteITSMEvents stores ITSM events (itsm_events); a redelivered event
// dedupes by incident, system, kind and time.
func (w *Writer) WriteITSMEvents(ctx context.Context, es []ITSMEvent) error {
	return w.write(ctx, itsmInsert(es))
}

func itsmInsert(es []ITSMEvent) insert {
	var (
		n       = len(es)
		digest  = xxhash.New()
		ids     = make([]uint64, 0, n)
		incs    = make([]string, 0, n)
		systems = make([]string, 0, n)
		kinds   = make([]string, 0, n)
		actors  = make([]string, 0, n)
		at      stamp
	)
	for _, e := range es {
		ids = append(ids, rowID(digest, e.At, nil, e.IncidentID, e.System, e.Kind))
		incs = append(incs, e.IncidentID)
		systems = append(systems, e.System)
		kinds = append(kinds, e.Kind)
		actors = append(actors, e.Actor)
		at.add(e.At)
	}
	in := insert{table: "itsm_events", rows: n, cols: []column{
		{"event_id", ids}, {"incident_id", incs}, {"system", systems}, {"kind", kinds}, {"actor", actors},
	}}
	in.cols = append(in.cols, at.cols("at")...)
	return in
}
