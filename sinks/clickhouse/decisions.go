package clickhouse

import (
	"cmp"
	"encoding/binary"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// eventID identifies one alert occurrence: the same occurrence redelivered
// (or decided again after a restart) gets the same id and replaces its old
// rows. Repeats of a firing alert share fingerprint, status and times except
// receivedAt, so ingest must stamp receivedAt for repeats to stay distinct.
func eventID(d *xxhash.Digest, a *quell.Alert) uint64 {
	var buf [8]byte
	d.Reset()
	d.WriteString(a.Source)
	d.Write([]byte{0})
	d.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(a.Fingerprint)))
	d.WriteString(string(a.Status))
	for _, t := range []int64{a.StartsAt.UnixNano(), a.EndsAt.UnixNano(), a.ReceivedAt.UnixNano()} {
		d.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(t)))
	}
	return d.Sum64()
}

// countedOnly: d is a repeat, counted in repeats (see repeat) and,
// unless storeRepeats, stored as no row of alerts or decisions.
func countedOnly(d *quell.Decision, storeRepeats bool) bool {
	return d.Actor == "" && d.Action == quell.ActionDeduplicated && !storeRepeats
}

// repeatRowBytes: a lean repeat, queued (see repeat: 136 bytes, its
// strings mostly shared with the alert's state) and as its row in repeats
// (event id, fingerprint, time, five short strings).
const repeatRowBytes = 192

// decisionInserts lays a batch of decisions out as the rows of four
// tables: alerts (the occurrence) and decisions for every decision but a
// repeat, unless storeRepeats; alert_state_changes for every decision but a
// repeat; and repeats, a Null table whose views count each repeat exactly
// (alert_repeats per fingerprint and minute, the hourly rollups) without
// storing it as a row.
func decisionInserts(ds []quell.Decision, storeRepeats bool) []insert {
	n := len(ds)
	var (
		digest = xxhash.New()
		ids    = make([]uint64, 0, n)
		fps    = make([]string, 0, n)
		srcs   = make([]string, 0, n)
		stats  = make([]string, 0, n)
		sevs   = make([]string, 0, n)
		names  = make([]string, 0, n)
		svcs   = make([]string, 0, n)
		lk, lv = make([][]string, 0, n), make([][]string, 0, n)
		ak, av = make([][]string, 0, n), make([][]string, 0, n)
		urls   = make([]string, 0, n)
		srcFps = make([]string, 0, n)
		raws   = make([]string, 0, n)
		incs   = make([]string, 0, n)
		acts   = make([]string, 0, n)
		reas   = make([]string, 0, n)

		evt, starts, ends, recv, decided stamp

		changed []int // indexes of state changes among the rows
		reps    []repeat
	)
	var feedback []quell.Decision
	for i := range ds {
		d, a := &ds[i], &ds[i].Alert
		if d.Actor != "" {
			feedback = append(feedback, *d) // not an occurrence: see feedbackInserts
			continue
		}
		id := eventID(digest, a)
		if d.Action == quell.ActionDeduplicated {
			reps = append(reps, newRepeat(id, d))
		} else {
			changed = append(changed, len(ids))
		}
		if countedOnly(d, storeRepeats) {
			continue
		}
		ids = append(ids, id)
		fps = append(fps, a.Fingerprint.String())
		srcs = append(srcs, a.Source)
		stats = append(stats, string(a.Status))
		sevs = append(sevs, string(a.Severity))
		names = append(names, a.Labels["alertname"])
		svcs = append(svcs, serviceOf(a.Labels))
		k, v := splitMap(a.Labels)
		lk, lv = append(lk, k), append(lv, v)
		k, v = splitMap(a.Annotations)
		ak, av = append(ak, k), append(av, v)
		urls = append(urls, a.GeneratorURL)
		srcFps = append(srcFps, a.SourceFingerprint)
		raws = append(raws, string(a.Raw))
		incs = append(incs, d.Incident)
		acts = append(acts, string(d.Action))
		reas = append(reas, d.Reason)
		evt.add(a.EventTime())
		starts.add(a.StartsAt)
		ends.add(a.EndsAt)
		recv.add(a.ReceivedAt)
		decided.add(d.At)
	}
	rows := len(ids)

	alerts := insert{table: "alerts", rows: rows, cols: []column{
		{"event_id", ids}, {"fingerprint", fps}, {"source", srcs}, {"status", stats},
		{"severity", sevs}, {"alertname", names}, {"service", svcs},
		{"label_keys", lk}, {"label_values", lv}, {"annotation_keys", ak}, {"annotation_values", av},
	}}
	alerts.cols = append(alerts.cols, evt.cols("event_time")...)
	alerts.cols = append(alerts.cols, starts.cols("starts_at")...)
	alerts.cols = append(alerts.cols, ends.cols("ends_at")...)
	alerts.cols = append(alerts.cols, recv.cols("received_at")...)
	alerts.cols = append(alerts.cols, column{"generator_url", urls}, column{"source_fingerprint", srcFps}, column{"raw", raws})

	decisions := insert{table: "decisions", rows: rows, cols: []column{
		{"event_id", ids}, {"fingerprint", fps}, {"source", srcs}, {"status", stats},
		{"alertname", names}, {"service", svcs},
	}}
	decisions.cols = append(decisions.cols, evt.cols("event_time")...)
	decisions.cols = append(decisions.cols, decided.cols("decided_at")...)
	decisions.cols = append(decisions.cols, column{"incident_id", incs}, column{"action", acts}, column{"reason", reas})

	ins := []insert{alerts, decisions, stateChanges(changed, ids, fps, srcs, stats, names, svcs, evt, incs, acts), repeatInsert(reps)}
	if len(feedback) > 0 {
		ins = append(ins, feedbackInserts(feedback)...)
	}
	return ins
}

// feedbackInserts lays out people's feedback: a decisions row each, at the
// time it was given and naming the actor (no alert occurrence, so no row
// in alerts or alert_state_changes), and what they did with the incident
// as itsm_events of the tool they acted in (quell for its API and console),
// one per incident and action.
func feedbackInserts(ds []quell.Decision) []insert {
	n := len(ds)
	var (
		ids                           = make([]uint64, 0, n)
		fps, srcs, stats, names, svcs = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		incs, acts, reas, actors      = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		at                            stamp
		events                        []ITSMEvent
		seen                          = map[string]bool{}
	)
	for i := range ds {
		d, a := &ds[i], &ds[i].Alert
		ids = append(ids, d.ID())
		fps = append(fps, a.Fingerprint.String())
		srcs = append(srcs, a.Source)
		stats = append(stats, string(a.Status))
		names = append(names, a.Labels["alertname"])
		svcs = append(svcs, serviceOf(a.Labels))
		incs = append(incs, d.Incident)
		acts = append(acts, string(d.Action))
		reas = append(reas, d.Reason)
		actors = append(actors, d.Actor)
		at.add(d.At)
		system := cmp.Or(d.Via, "quell")
		if k := d.Incident + "\x00" + system + "\x00" + string(d.Action); !seen[k] {
			seen[k] = true
			events = append(events, ITSMEvent{IncidentID: d.Incident, System: system, Kind: string(d.Action), Actor: d.Actor, At: d.At})
		}
	}
	decisions := insert{table: "decisions", rows: n, cols: []column{
		{"event_id", ids}, {"fingerprint", fps}, {"source", srcs}, {"status", stats}, {"alertname", names}, {"service", svcs},
	}}
	decisions.cols = append(decisions.cols, at.cols("event_time")...)
	decisions.cols = append(decisions.cols, at.cols("decided_at")...)
	decisions.cols = append(decisions.cols, column{"incident_id", incs}, column{"action", acts}, column{"reason", reas}, column{"actor", actors})
	return []insert{decisions, itsmInsert(events)}
}

// repeat is a repeat that is only counted, as the sink queues it: what
// its row in repeats needs and not its alert, whose labels, annotations and
// payload were most of what a queued repeat held. Dead-lettered, it is
// written as this.
type repeat struct {
	EventID     uint64            `json:"eventId"`
	Fingerprint quell.Fingerprint `json:"fingerprint"`
	Source      string            `json:"source"`
	Status      quell.Status      `json:"status"`
	Severity    quell.Severity    `json:"severity"`
	Alertname   string            `json:"alertname"`
	Service     string            `json:"service"`
	EventTime   time.Time         `json:"eventTime"`
	Incident    string            `json:"incident"`
}

// newRepeat is d's repeat row; id is its occurrence's eventID.
func newRepeat(id uint64, d *quell.Decision) repeat {
	a := &d.Alert
	return repeat{EventID: id, Fingerprint: a.Fingerprint, Source: a.Source, Status: a.Status, Severity: a.Severity,
		Alertname: a.Labels["alertname"], Service: serviceOf(a.Labels), EventTime: a.EventTime(), Incident: d.Incident}
}

// repeatInsert lays repeats out as rows of the repeats table.
func repeatInsert(rs []repeat) insert {
	n := len(rs)
	ids, evt := make([]uint64, n), make([]int64, n)
	fps, srcs, stats, sevs, names, svcs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range rs {
		r := &rs[i]
		ids[i], fps[i], srcs[i], stats[i] = r.EventID, r.Fingerprint.String(), r.Source, string(r.Status)
		sevs[i], names[i], svcs[i] = string(r.Severity), r.Alertname, r.Service
		evt[i], _ = splitTime(r.EventTime)
	}
	return insert{table: "repeats", rows: n, cols: []column{
		{"event_id", ids}, {"fingerprint", fps}, {"source", srcs}, {"status", stats}, {"severity", sevs},
		{"alertname", names}, {"service", svcs}, {"event_time", evt},
	}}
}

// stateChanges picks the rows at idx out of the decision columns.
func stateChanges(idx []int, ids []uint64, fps, srcs, stats, names, svcs []string, evt stamp, incs, acts []string) insert {
	n := len(idx)
	pick := func(col []string) []string {
		out := make([]string, n)
		for j, i := range idx {
			out[j] = col[i]
		}
		return out
	}
	cIDs := make([]uint64, n)
	cEvt := stamp{secs: make([]int64, n), ms: make([]uint16, n)}
	for j, i := range idx {
		cIDs[j] = ids[i]
		cEvt.secs[j], cEvt.ms[j] = evt.secs[i], evt.ms[i]
	}
	in := insert{table: "alert_state_changes", rows: n, cols: []column{
		{"event_id", cIDs}, {"fingerprint", pick(fps)}, {"source", pick(srcs)}, {"status", pick(stats)},
		{"alertname", pick(names)}, {"service", pick(svcs)},
	}}
	in.cols = append(in.cols, cEvt.cols("event_time")...)
	in.cols = append(in.cols, column{"incident_id", pick(incs)}, column{"action", pick(acts)})
	return in
}
