package correlate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// changelog applies records as a compacted topic keeps them: the latest
// value per key, deleted keys gone.
type changelog map[string][]byte

func (c changelog) apply(t *testing.T, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if len(r.Value) > 1<<20 {
			t.Fatalf("record %s holds %d bytes, over Kafka's default maximum record size", r.Key, len(r.Value))
		}
		if r.Value == nil {
			delete(c, r.Key)
		} else {
			c[r.Key] = r.Value
		}
	}
}

// records encodes d, keeping each value (Each lends them only until the
// next record).
func records(t *testing.T, d *Delta) []Record {
	t.Helper()
	var recs []Record
	if err := d.Each(func(r Record) error {
		if r.Value != nil {
			r.Value = bytes.Clone(r.Value)
		}
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

func snapshotJSON(t *testing.T, s Snapshot) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bursts are storms of new alerts a second or less apart on services that
// share edges, with repeats and resolves of earlier ones between them: young
// incidents that merge, held decisions, evictions.
func bursts(seed uint64, n int) []occ {
	rng := rand.New(rand.NewPCG(seed, 2))
	services := []string{"web", "api", "db", "cache", "queue", "mail"}
	var out []occ
	var fired []string
	at := time.Duration(0)
	for len(out) < n {
		at += time.Duration(rng.IntN(40)) * time.Second
		if rng.IntN(4) == 0 { // after a quiet while, two young incidents that a third alert links
			at += 10 * time.Minute
			svc, host := "service="+services[rng.IntN(len(services))], fmt.Sprintf("host=node%d", rng.IntN(12))
			for i, l := range []string{svc, host, svc + "," + host} {
				out = append(out, occ{at + time.Duration(i)*time.Second, fmt.Sprintf("alertname=M%d,%s", rng.IntN(30), l), ""})
			}
			at += 3 * time.Second
		}
		for range 1 + rng.IntN(25) {
			at += time.Duration(rng.IntN(1000)) * time.Millisecond
			var labels string
			switch r := rng.IntN(10); {
			case r < 6 || len(fired) == 0:
				svc, host := "service="+services[rng.IntN(len(services))], fmt.Sprintf("host=node%d", rng.IntN(12))
				labels = fmt.Sprintf("alertname=A%d,", rng.IntN(30)) + []string{svc, host, svc + "," + host}[rng.IntN(3)]
				fired = append(fired, labels)
			case r < 8:
				labels = fired[rng.IntN(len(fired))]
			default:
				out = append(out, occ{at, fired[rng.IntN(len(fired))], quell.Resolved})
				continue
			}
			out = append(out, occ{at, labels, ""})
		}
	}
	return out[:n]
}

// changesConfig makes every part of the state move: merges of young
// incidents, evictions, held decisions, flapping, reopening.
func changesConfig() Config {
	c := fastConfig()
	c.MaxIncidents = 12
	c.MaxTrackedAlerts = 60
	c.MaxHeldDecisions = 50
	return c
}

// The records Changes wrote so far always add up to the engine's Snapshot,
// and an engine restored from them decides on exactly as one that never
// stopped: the changelog is the state, written as it changes.
func TestChangesAddUpToTheSnapshot(t *testing.T) {
	changesAddUp(t, changesConfig(), bursts(21, 3000), func(*Engine) {})
}

// changesAddUp runs occs through an engine whose records are written as
// TestChangesAddUpToTheSnapshot says and that restarts from them now and
// then; each engine is passed to look after every batch.
func changesAddUp(t *testing.T, cfg Config, occs []occ, look func(*Engine)) {
	t.Helper()
	whole := newRun(t, cfg, topoForTests(t))
	whole.feed(0, occs...)
	whole.eng.Flush()

	r := newRun(t, cfg, topoForTests(t))
	r.eng.TrackChanges()
	log := changelog{}
	rng := rand.New(rand.NewPCG(3, 4))
	restores := 0
	seen := map[string]int{}
	// A delta is encoded while the engine goes on, as split mode does: it
	// must hold the state as it was when captured.
	var pending *Delta
	var want string
	encode := func(i int) Snapshot {
		recs := records(t, pending)
		log.apply(t, recs)
		for _, rec := range recs {
			seen[rec.Key[:1]+map[bool]string{true: " deleted", false: ""}[rec.Value == nil]]++
		}
		snap, err := FromRecords(log)
		if err != nil {
			t.Fatalf("after %d alerts: %v", i, err)
		}
		if got := snapshotJSON(t, snap); got != want {
			k := 0 // where they first differ: the whole state is too long to read
			for k < len(got) && k < len(want) && got[k] == want[k] {
				k++
			}
			t.Fatalf("after %d alerts the records do not add up to the snapshot at %d:\n got  %.300s\n want %.300s", i, k, got[max(0, k-200):], want[max(0, k-200):])
		}
		pending = nil
		return snap
	}
	for i := 0; i < len(occs); {
		n := 1 + rng.IntN(80)
		end := min(i+n, len(occs))
		r.feed(0, occs[i:end]...)
		look(r.eng)
		if pending != nil {
			encode(i)
		}
		i = end
		d, err := r.eng.Changes()
		if err != nil {
			t.Fatal(err)
		}
		pending, want = d, snapshotJSON(t, r.eng.Snapshot())
		if rng.IntN(10) == 0 { // a crash: go on from the records
			snap := encode(i)
			next := newRun(t, cfg, topoForTests(t))
			next.decisions = r.decisions
			next.eng.Restore(snap)
			next.eng.TrackChanges()
			r = next
			restores++
		}
	}
	if pending != nil {
		encode(len(occs))
	}
	r.eng.Flush()
	if restores == 0 {
		t.Fatal("the test restored nothing")
	}
	// An a/ record is rarer: TestAlertStateRidesInItsMember writes one.
	for _, k := range []string{"i", "i deleted", "m", "m deleted", "a deleted", "d", "d deleted", "l", "c", "r", "n", "e"} {
		if seen[k] == 0 {
			t.Errorf("the stream wrote no %q record: %v", k, seen)
		}
	}
	if len(r.decisions) != len(whole.decisions) {
		t.Fatalf("%d decisions across %d restores, want %d", len(r.decisions), restores, len(whole.decisions))
	}
	for i := range r.decisions {
		g, w := r.decisions[i], whole.decisions[i]
		if g.Incident != w.Incident || g.Action != w.Action || g.Reason != w.Reason || !g.At.Equal(w.At) {
			t.Fatalf("decision %d differs:\n got  %s %s %s\n want %s %s %s", i, g.Action, g.Incident, g.Reason, w.Action, w.Incident, w.Reason)
		}
	}
}

// One incident of 20,000 alerts is 20,000 small records (a member with its
// alert's dedupe state), and a repeat of one of them rewrites one member,
// not the incident's alerts.
func TestChangesOfABigIncidentAreSmall(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAlerts = 50000
	r := newRun(t, cfg, nil)
	r.eng.TrackChanges()
	var occs []occ
	for i := range 20000 {
		occs = append(occs, occ{time.Duration(i) * time.Millisecond, fmt.Sprintf("alertname=Down,service=web,instance=h%d", i), ""})
	}
	r.feed(time.Minute, occs...)
	d, err := r.eng.Changes()
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, d)
	if n := r.eng.Count(quell.IncidentOpen); n != 1 {
		t.Fatalf("%d open incidents, want the storm in one", n)
	}
	biggest := 0
	for _, rec := range recs {
		biggest = max(biggest, len(rec.Value))
	}
	if len(recs) < 20000 || len(recs) > 20010 || biggest > 64<<10 {
		t.Fatalf("%d records, the biggest %d bytes: want one per member, each small", len(recs), biggest)
	}
	r.feed(0, occ{time.Minute + time.Second, "alertname=Down,service=web,instance=h7", ""})
	if d, err = r.eng.Changes(); err != nil {
		t.Fatal(err)
	}
	recs = records(t, d)
	var keys []string
	for _, rec := range recs {
		if rec.Key[0] != 'l' {
			keys = append(keys, rec.Key)
		}
	}
	// The header, the incident, its member, and the scope's record: that
	// an alert fired again there is part of its spacing (see Spacing).
	if len(keys) != 4 || !slices.ContainsFunc(keys, func(k string) bool { return k[0] == 'r' }) {
		t.Fatalf("one repeat wrote %v, want the header, the incident, its member and the scope", keys)
	}
}

// Decisions held for an incident that merged into another go out naming
// where their alerts ended up, also after a restore from the records.
func TestChangesKeepHeldDecisionsOfMergedIncidents(t *testing.T) {
	runs := [2]*run{newRun(t, fastConfig(), topoForTests(t)), newRun(t, fastConfig(), topoForTests(t))}
	log := changelog{}
	for i, r := range runs {
		r.eng.TrackChanges()
		r.feed(0, occ{0, "alertname=A,service=web,host=n1", ""}, occ{time.Second, "alertname=B,service=queue,host=n2", ""})
		var incs []*incident
		for _, inc := range r.eng.incidents {
			incs = append(incs, inc)
		}
		if len(incs) != 2 {
			t.Fatalf("%d incidents, want two young ones", len(incs))
		}
		dst, src := incs[0], incs[1]
		if before(src, dst) {
			dst, src = src, dst
		}
		r.eng.merge(dst, src, t0.Add(2*time.Second), "merged into incident "+dst.id+": a test")
		if i == 1 {
			d, err := r.eng.Changes()
			if err != nil {
				t.Fatal(err)
			}
			log.apply(t, records(t, d))
			snap, err := FromRecords(log)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Gone) != 1 || snap.Gone[0].ID != src.id || snap.Gone[0].Into != dst.id {
				t.Fatalf("gone incidents %+v, want %s merged into %s", snap.Gone, src.id, dst.id)
			}
			next := newRun(t, fastConfig(), topoForTests(t))
			next.decisions = r.decisions
			next.eng.Restore(snap)
			next.eng.TrackChanges()
			runs[1] = next
		}
	}
	for _, r := range runs {
		r.feed(time.Minute, occ{3 * time.Second, "alertname=C,service=web,host=n1", ""})
	}
	// The held decisions went out: no record keeps the merged incident.
	d, err := runs[1].eng.Changes()
	if err != nil {
		t.Fatal(err)
	}
	log.apply(t, records(t, d))
	if snap, err := FromRecords(log); err != nil || len(snap.Gone) != 0 {
		t.Fatalf("gone incidents after their held decisions went out: %+v (%v), want none", snap.Gone, err)
	}
	if len(runs[0].decisions) != 3 || len(runs[1].decisions) != 3 {
		t.Fatalf("%d and %d decisions, want 3", len(runs[0].decisions), len(runs[1].decisions))
	}
	for i := range runs[0].decisions {
		w, g := runs[0].decisions[i], runs[1].decisions[i]
		if g.Incident != w.Incident || g.Action != w.Action || g.Reason != w.Reason {
			t.Fatalf("decision %d after the restore: %s %s %q, want %s %s %q", i, g.Action, g.Incident, g.Reason, w.Action, w.Incident, w.Reason)
		}
	}
	if d := runs[1].decisions[1]; d.Action != quell.ActionJoined || !strings.Contains(d.Reason, "a test") {
		t.Fatalf("the merged incident's decision went out as %s %q", d.Action, d.Reason)
	}
}

// The state records are written directly; they read back to what was written.
func TestStateRecordsAreEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, is := range []IncidentState{
		{},
		{Incident: quell.Incident{ID: "a1", Status: quell.IncidentOpen, Title: "Disk \"full\" <on> \u2028 db", Severity: quell.Critical,
			CreatedAt: at, UpdatedAt: at.Add(time.Second), ResolvedAt: at.Add(time.Hour), ResolvedBy: "Zoë \"z\"",
			AcknowledgedAt: at.Add(time.Minute), AcknowledgedBy: "ops <bot>", AssignedTo: "Jane"},
			Scope: 1<<63 + 5, LastActivity: at, LastHeard: at.Add(-time.Minute), Seq: 7, Announced: true, Reopened: true, Cadence: 90 * time.Second, Pending: true, Sigs: []uint64{1, 1 << 62}, Joins: 12},
	} {
		var got IncidentState
		if err := json.Unmarshal(is.appendJSON(nil), &got); err != nil || !reflect.DeepEqual(got, is) {
			t.Errorf("incident record %s reads back as %+v (%v), want %+v", is.appendJSON(nil), got, err, is)
		}
	}
	for _, r := range []coRecord{{}, {Seen: 3}, {With: []uint64{1 << 63, 7}, N: []uint32{2, 1}}, {Seen: 9, With: []uint64{5}, N: []uint32{4}}} {
		var got coRecord
		if err := json.Unmarshal(r.appendJSON(nil), &got); err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("co-firing record %s reads back as %+v (%v), want %+v", r.appendJSON(nil), got, err, r)
		}
	}
	for _, st := range []dedupe.State{
		{},
		{Fingerprint: 0xfedcba9876543210, Status: quell.Firing, StartsAt: at, Count: 3, FirstSeen: at, LastSeen: at.Add(time.Minute),
			Changes: []time.Time{at, at.Add(time.Second)}, Flapping: true, ExpiresAt: at.Add(5 * time.Minute)},
	} {
		var got dedupe.State
		if err := json.Unmarshal(st.AppendJSON(nil), &got); err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("alert record %s reads back as %+v (%v), want %+v", st.AppendJSON(nil), got, err, st)
		}
		// In a member record, beside an alert that says the same and one
		// that says otherwise (merged counts, a later episode).
		st.Fingerprint = 0xfedcba9876543210
		for _, a := range []quell.IncidentAlert{
			{Fingerprint: st.Fingerprint, Status: st.Status, StartsAt: st.StartsAt, Count: st.Count, LastSeen: st.LastSeen},
			{Fingerprint: st.Fingerprint, Status: quell.Resolved, StartsAt: at.Add(-time.Hour), Count: 9, LastSeen: at.Add(time.Hour)},
		} {
			b := appendOwn(nil, &a, &st)
			var mr memberRecord
			if err := json.Unmarshal([]byte(`{"alert":`+string(marshal(t, a))+`,"own":`+string(b)+`}`), &mr); err != nil || !reflect.DeepEqual(*mr.state(), st) {
				t.Errorf("member state %s beside %+v reads back as %+v (%v), want %+v", b, a, mr.state(), err, st)
			}
		}
	}
	// Member records, read without encoding/json, read as it reads them:
	// with and without the alert's state, and with what strings escape.
	odd := quell.IncidentAlert{Fingerprint: 0xfedcba9876543210, Source: "datadog", Status: quell.Resolved,
		Labels:      map[string]string{"service": "cart \"blue\" <v2>", "zone": "eu\u2028west\n", "émoji": "🔥"},
		Annotations: map[string]string{"summary": "disk\tfull & \\slow", "runbook_url": "https://example.com/?a=1&b=2"},
		StartsAt:    at, EndsAt: at.Add(time.Hour), Count: 12, LastSeen: at.Add(30 * time.Minute), Flapping: true,
		Reason: "score 0.81: shares pod=\"x\"; runner-up none"}
	st := dedupe.State{Fingerprint: odd.Fingerprint, Status: quell.Firing, StartsAt: at, Count: 3, FirstSeen: at, LastSeen: at.Add(time.Minute),
		Changes: []time.Time{at, at.Add(time.Second)}, Flapping: true, ExpiresAt: at.Add(5 * time.Minute)}
	for _, dm := range []deltaMember{
		{pos: 0, alert: quell.IncidentAlert{Fingerprint: 1, Status: quell.Firing, Labels: map[string]string{}}},
		{pos: 1 << 40, alert: odd},
		{pos: 7, alert: odd, st: st, withState: true},
	} {
		v := dm.appendJSON(nil)
		var want, got memberRecord
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatalf("member record %s: %v", v, err)
		}
		if err := readMember(v, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("member record %s reads back as %+v (%v), want %+v", v, got, err, want)
		}
	}
	// What older versions wrote reads too: the dedupe state whole, fields
	// in another order.
	old := `{"pos":3,"alert":{"fingerprint":"fedcba9876543210","status":"firing","labels":{"a":"b"},"startsAt":"2026-03-01T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","count":1,"lastSeen":"2026-03-01T12:00:00Z","reason":"r"},"dedupe":{"fingerprint":"fedcba9876543210","status":"firing","startsAt":"2026-03-01T12:00:00Z","count":1,"firstSeen":"2026-03-01T12:00:00Z","lastSeen":"2026-03-01T12:00:00Z"}}`
	for _, v := range []string{old, `{"alert":{"fingerprint":"fedcba9876543210","status":"firing","labels":{}},"pos":4}`} {
		var want, got memberRecord
		if err := json.Unmarshal([]byte(v), &want); err != nil {
			t.Fatal(err)
		}
		if err := readMember([]byte(v), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("older member record %s reads back as %+v (%v), want %+v", v, got, err, want)
		}
	}
	if err := readMember([]byte(`{"pos":1,"alert":{"fingerprint":"zz"}}`), new(memberRecord)); err == nil {
		t.Error("a member record with a bad fingerprint read without an error")
	}
}

// An alert's dedupe state rides in its incident's member record: a new
// alert is one record. An alert that outlives its incident (a person
// resolved it while the alert fired) gets an a/ record, and its member
// record the state again once it joins another incident; the records add
// up to the snapshot all along.
func TestAlertStateRidesInItsMember(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	r.eng.TrackChanges()
	log := changelog{}
	step := func(what string) map[string][]byte {
		t.Helper()
		d, err := r.eng.Changes()
		if err != nil {
			t.Fatal(err)
		}
		want := snapshotJSON(t, r.eng.Snapshot())
		recs := records(t, d)
		log.apply(t, recs)
		snap, err := FromRecords(log)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := snapshotJSON(t, snap); got != want {
			t.Fatalf("%s: the records do not add up to the snapshot:\n got  %.800s\n want %.800s", what, got, want)
		}
		written := map[string][]byte{}
		for _, rec := range recs {
			if rec.Value != nil && rec.Key[0] != 'l' && rec.Key[0] != 'h' && rec.Key[0] != 'd' {
				written[rec.Key[:1]] = rec.Value
			}
		}
		return written
	}
	fp := alert(occ{labels: "alertname=Down,service=web"}).Fingerprint
	first := r.feed(fastConfig().GroupWait, occ{0, "alertname=Down,service=web", ""})[0].Incident
	w := step("a new alert")
	if _, ok := w["a"]; ok || !bytes.Contains(w["m"], []byte(`"own":{"firstSeen":`)) {
		t.Fatalf("a new alert wrote %q: want its member record with its dedupe state, and no a/ record", w)
	}
	if err := r.feedback(quell.Feedback{Action: quell.FeedbackResolve, Incident: first, Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	r.feed(fastConfig().ReopenWindow+time.Minute, occ{time.Minute, "alertname=Other,service=mail", ""})
	if _, ok := r.eng.Incident(first); ok || r.eng.tracker.Get(fp) == nil {
		t.Fatal("want the resolved incident forgotten and its alert, still firing, tracked")
	}
	w = step("the alert outlived its incident")
	if !bytes.Contains(w["a"], []byte(fp.String())) {
		t.Fatalf("the alert outliving its incident wrote %q: want an a/ record of its state", w)
	}
	later := fastConfig().ReopenWindow + 3*time.Minute
	r.feed(0, occ{later, "alertname=Down,service=web", quell.Resolved})
	step("the alert resolved")
	ds := r.feed(time.Minute, occ{later + time.Minute, "alertname=Down,service=web", ""})
	if ds[0].Incident == "" || ds[0].Incident == first {
		t.Fatalf("the alert firing again went to %q: %+v", ds[0].Incident, ds)
	}
	if w = step("the alert joined another incident"); !bytes.Contains(w["m"], []byte(`"own":{`)) {
		t.Fatalf("the alert joining another incident wrote %q: want its member record with its state", w)
	}
	// State written before members held their alert's state, every state
	// in an a/ record, reads as it did; so does state whose members held
	// it whole.
	alone, whole := maps.Clone(log), maps.Clone(log)
	for k, v := range log {
		var mr memberRecord
		if !strings.HasPrefix(k, "m/") || json.Unmarshal(v, &mr) != nil || mr.Own == nil {
			continue
		}
		st := mr.state()
		alone[string(appendAlertKey(nil, mr.Alert.Fingerprint))] = st.AppendJSON(nil) // over an a/ record it outgrew
		mr.Own = nil
		alone[k] = marshal(t, mr)
		mr.Dedupe = st
		whole[k] = marshal(t, mr)
	}
	for what, recs := range map[string]changelog{"in a/ records alone": alone, "whole in member records": whole} {
		old, err := FromRecords(recs)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := snapshotJSON(t, old), snapshotJSON(t, r.eng.Snapshot()); got != want {
			t.Fatalf("state %s reads back as\n %.800s\nwant\n %.800s", what, got, want)
		}
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkpoint writes eng's changes to log, as split mode does, and returns
// the records written.
func (log changelog) checkpoint(t *testing.T, eng *Engine) []Record {
	t.Helper()
	d, err := eng.Changes()
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, d)
	log.apply(t, recs)
	return recs
}

// restore reads log back, and checks that it holds eng's state.
func (log changelog) restore(t *testing.T, eng *Engine) Snapshot {
	t.Helper()
	snap, err := FromRecords(log)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotJSON(t, snap), snapshotJSON(t, eng.Snapshot()); got != want {
		t.Fatalf("the records do not add up to the snapshot:\n got  %.800s\n want %.800s", got, want)
	}
	return snap
}

// What was learned is written as it changes: once a storm taught the
// engine thousands of signatures' co-firing (megabytes as one document),
// a checkpoint after a few more alerts writes the records of the
// signatures they touched and of their scope, not all it learned again.
func TestLearnedIsWrittenAsItChanges(t *testing.T) {
	r := newRun(t, DefaultConfig(), nil)
	fire := func(from, n int) {
		var occs []occ
		for i := from; i < from+n; i++ {
			occs = append(occs, occ{time.Duration(i) * time.Millisecond, fmt.Sprintf("alertname=A%d,service=svc%d,n=%d", i%13, i%2000, i), ""})
		}
		r.feed(time.Minute, occs...) // past group_wait: the incidents' news is out
	}
	r.eng.TrackChanges()
	fire(0, 30000)
	log := changelog{}
	log.checkpoint(t, r.eng)
	learned := 0
	for k, v := range log {
		if strings.IndexByte("clnr", k[0]) >= 0 {
			learned += len(v)
		}
	}
	if learned < 1<<20 {
		t.Fatalf("the storm taught %d bytes of co-firing and graph; the test needs more", learned)
	}
	fire(90000, 3) // services and names it knows: nothing new for the graph
	written := map[byte]int{}
	size := 0
	for _, rec := range log.checkpoint(t, r.eng) {
		if k := rec.Key[0]; strings.IndexByte("clnre", k) >= 0 {
			written[k]++
			size += len(rec.Key) + len(rec.Value)
		}
	}
	if written['l']+written['n']+written['e'] > 0 || written['c'] == 0 || written['c'] > 3*(maxRecent+1) || written['r'] != 1 || size > 64<<10 {
		t.Fatalf("3 new alerts wrote %d bytes of what was learned in %v records by kind (of %d bytes); want a few signatures' records and their scope's", size, written, learned)
	}
	log.restore(t, r.eng)
}

// State written before the graph, co-firing and recent signatures had
// records of their own (all of it in the learned chunks) restores as it
// was, and the first checkpoint after it moves them into their records and
// deletes the chunks it no longer needs.
func TestLearnedChunksOfOlderStateRestore(t *testing.T) {
	r := newRun(t, changesConfig(), topoForTests(t))
	r.eng.TrackChanges()
	r.feed(0, bursts(5, 600)...)
	log := changelog{}
	log.checkpoint(t, r.eng)

	// As older versions wrote it: everything learned in the chunks.
	old := changelog{}
	for k, v := range log {
		if strings.IndexByte("clnre", k[0]) < 0 {
			old[k] = v
		}
	}
	b, err := json.Marshal(r.eng.Snapshot().Learned)
	if err != nil {
		t.Fatal(err)
	}
	var h header
	if err := json.Unmarshal(old["h"], &h); err != nil {
		t.Fatal(err)
	}
	h.Learned = 0
	for c := range slices.Chunk(b, 1<<10) {
		old[fmt.Sprintf("l/%d", h.Learned)] = c
		h.Learned++
	}
	if old["h"], err = json.Marshal(h); err != nil {
		t.Fatal(err)
	}
	next := newRun(t, changesConfig(), topoForTests(t))
	next.eng.Restore(old.restore(t, r.eng))
	next.eng.TrackChanges()
	kinds := map[byte]int{}
	for _, rec := range old.checkpoint(t, next.eng) {
		kinds[rec.Key[0]]++
	}
	if kinds['c'] == 0 || kinds['r'] == 0 || kinds['n'] == 0 || kinds['e'] == 0 {
		t.Fatalf("the first checkpoint wrote %v records by kind: want co-firing, recent signatures and the graph in records of their own", kinds)
	}
	old.restore(t, next.eng)
	if err := json.Unmarshal(old["h"], &h); err != nil {
		t.Fatal(err)
	}
	for k := range old {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "l/")); err == nil && n >= h.Learned {
			t.Errorf("chunk %s is left past the %d the header counts", k, h.Learned)
		}
	}
}

// A new topology numbers the learned graph anew (what the file now names is
// no longer learned): the checkpoint after the swap writes the learned
// nodes and edges again and deletes those past the new count, and the
// records still add up to the state.
func TestLearnedGraphRecordsFollowATopologySwap(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	r.eng.TrackChanges()
	var occs []occ
	for i := range 40 {
		occs = append(occs, occ{time.Duration(i) * time.Second, fmt.Sprintf("alertname=A%d,service=svc%d,host=node%d", i, i%8, i%5), ""})
	}
	r.feed(0, occs[:20]...)
	log := changelog{}
	checkpoint := func() map[byte]int {
		t.Helper()
		kinds := map[byte]int{}
		for _, rec := range log.checkpoint(t, r.eng) {
			if rec.Value == nil {
				kinds[rec.Key[0]-32]++ // upper case: deleted
			} else {
				kinds[rec.Key[0]]++
			}
		}
		log.restore(t, r.eng)
		return kinds
	}
	checkpoint()
	before := len(r.eng.graph.ids)
	topo, err := ParseTopology(strings.NewReader(`{"nodes":[{"id":"svc0"},{"id":"svc1"},{"id":"node0"},{"id":"node1"},{"id":"node2"},{"id":"node3"},{"id":"node4"}],"edges":[{"source":"svc0","target":"node0"},{"source":"svc0","target":"node3"},{"source":"svc1","target":"node1"},{"source":"svc1","target":"node4"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.eng, err = r.eng.WithTopology(topo); err != nil {
		t.Fatal(err)
	}
	if n := len(r.eng.graph.ids); n >= before {
		t.Fatalf("%d learned nodes after the swap, %d before: the test needs the file to name some", n, before)
	}
	if kinds := checkpoint(); kinds['N'] == 0 || kinds['n'] == 0 || kinds['E'] == 0 || kinds['e'] == 0 {
		t.Fatalf("the checkpoint after the swap wrote %v records by kind (upper case: deleted): want learned nodes and edges rewritten and the surplus deleted", kinds)
	}
	r.feed(0, occs[20:]...)
	checkpoint()
}

// A correlator restored from its records finds what it learned there: its
// first checkpoint does not write the graph and co-firing again (at the
// bounds, tens of megabytes at every restart and rebalance), and the
// records go on adding up to the state.
func TestRestoredLearningIsNotWrittenAgain(t *testing.T) {
	r := newRun(t, changesConfig(), topoForTests(t))
	r.eng.TrackChanges()
	occs := bursts(9, 900)
	r.feed(0, occs[:600]...)
	log := changelog{}
	log.checkpoint(t, r.eng)
	next := newRun(t, changesConfig(), topoForTests(t))
	next.eng.Restore(log.restore(t, r.eng))
	next.eng.TrackChanges()
	for _, rec := range log.checkpoint(t, next.eng) {
		if strings.IndexByte("cnre", rec.Key[0]) >= 0 {
			t.Fatalf("the first checkpoint after a restore wrote %s: what was learned is in the records already", rec.Key)
		}
	}
	next.feed(0, occs[600:]...)
	log.checkpoint(t, next.eng)
	log.restore(t, next.eng)
}

// calls is a reproducible storm over 40 services that call one another,
// run on 30 hosts or as pods on 10 nodes, with machine alerts, repeats,
// resolves, quiet spells and alerts that move between incidents.
func calls(seed uint64, n int) []occ {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []occ
	var fired []string
	at := time.Duration(0)
	for len(out) < n {
		at += time.Duration(rng.IntN(3000)) * time.Millisecond
		if rng.IntN(50) == 0 {
			at += 12 * time.Minute
		}
		switch r := rng.IntN(10); {
		case r < 6 || len(fired) == 0:
			svc := fmt.Sprintf("s%d", rng.IntN(40))
			l := []string{
				fmt.Sprintf("service=%s,peer_service=s%d", svc, rng.IntN(40)),
				fmt.Sprintf("service=%s,host=h%d", svc, rng.IntN(30)),
				fmt.Sprintf("pod=%s-7d9f8b6c5-x%d,node=n%d", svc, rng.IntN(5), rng.IntN(10)),
				fmt.Sprintf("host=h%d", rng.IntN(30)),
			}[rng.IntN(4)]
			l = fmt.Sprintf("alertname=A%d,", rng.IntN(20)) + l
			fired = append(fired, l)
			out = append(out, occ{at, l, ""})
		case r < 8:
			out = append(out, occ{at, fired[rng.IntN(len(fired))], ""})
		default:
			out = append(out, occ{at, fired[rng.IntN(len(fired))], quell.Resolved})
		}
	}
	return out
}

// The records add up, and restarts decide as no restart, where alerts
// move between incidents and leave some with none: an incident's last
// occurrence (what orders eviction) is its own, not its members' latest.
func TestChangesAddUpAsAlertsMove(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			changesAddUp(t, changesConfig(), calls(seed, 1500), func(*Engine) {})
		})
	}
}
