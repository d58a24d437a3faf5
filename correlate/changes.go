package correlate

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
)

// Record is one keyed piece of the engine's state, for a changelog (split
// mode keeps one per partition in a compacted Kafka topic). Value nil means
// the key was deleted. Records are small: one per incident, per member, per
// tracked alert that no incident holds, per held decision, per learned
// graph node and edge and per alert signature whose co-firing was learned,
// a header, and what people taught in chunks of learnedChunk bytes; so a
// state of any size is written as it changes, never as one blob.
//
// Keys:
//
//	h                header: the clock, the held decisions' first number, the learned chunks
//	l/<n>            a chunk of what people taught, as JSON (Learned; state written by older versions has all of Learned there)
//	n/<k>            the k-th node the graph learned (nodeRecord)
//	e/<k>            the k-th edge the graph learned: its nodes' names
//	c/<sig>          what was learned of one signature's co-firing (coRecord; sig in hex)
//	r/<scope>        the signatures one scope saw start firing lately (ScopeSignatures; scope in hex)
//	i/<id>           an incident without its members (IncidentState)
//	m/<id>/<fp>      one member of incident id, with its dedupe state when id is the alert's own (memberRecord)
//	a/<fp>           the dedupe state of an alert no incident holds
//	d/<n>            held decision number n (HeldDecision)
//	g/<id>           an incident held decisions name that is gone (GoneIncident)
type Record struct {
	Key   string
	Value []byte
}

// learnedChunk bounds a learned record, far below Kafka's default maximum
// record size (1 MB).
const learnedChunk = 256 << 10

// coRecord is a c/ record: how often one signature fired and its
// partners, in their order (see cooccur).
type coRecord struct {
	Seen uint32   `json:"seen,omitempty"`
	With []uint64 `json:"with,omitempty"`
	N    []uint32 `json:"n,omitempty"`
}

// nodeRecord is an n/ record: a node the graph learned, and whether it is
// a machine.
type nodeRecord struct {
	Name string `json:"name"`
	Host bool   `json:"host,omitempty"`
}

type header struct {
	Now      time.Time `json:"now"`
	HeldBase uint64    `json:"heldBase"`
	Learned  int       `json:"learned"`
}

// memberRecord is an m/ record. Own is the alert's dedupe state when the
// record's incident is the alert's own (the latest it joined): a new alert
// is then one record, not also an a/ record, and its eviction one
// deletion. State written before quell did so keeps it in a/ records, and
// before Own, in Dedupe, whole.
type memberRecord struct {
	Pos    uint64              `json:"pos"`
	Alert  quell.IncidentAlert `json:"alert"`
	Own    *ownState           `json:"own,omitempty"`
	Dedupe *dedupe.State       `json:"dedupe,omitempty"`
}

// ownState is the dedupe state a member record holds of its alert, less
// what the alert's fields there say already: the fingerprint always, and
// the status, start, count and last sighting unless they differ (nil:
// the alert's). Whole, it was a quarter of a storm's state records.
type ownState struct {
	Status    *quell.Status `json:"status,omitempty"`
	StartsAt  *time.Time    `json:"startsAt,omitempty"`
	Count     *int          `json:"count,omitempty"`
	FirstSeen time.Time     `json:"firstSeen"`
	LastSeen  *time.Time    `json:"lastSeen,omitempty"`
	Changes   []time.Time   `json:"changes,omitempty"`
	Flapping  bool          `json:"flapping,omitempty"`
	ExpiresAt time.Time     `json:"expiresAt,omitzero"`
}

// readMember reads an m/ record. What Delta.Each writes, {"pos":…,"alert":…
// and maybe "own"}, is read without encoding/json, which spent most of a
// restore's time there: a storm's state is mostly member records. Other
// shapes (written by older versions) are encoding/json's.
func readMember(v []byte, r *memberRecord) error {
	rest, ok := bytes.CutPrefix(v, []byte(`{"pos":`))
	comma := bytes.IndexByte(rest, ',')
	if !ok || comma < 0 {
		return json.Unmarshal(v, r)
	}
	pos, err := strconv.ParseUint(string(rest[:comma]), 10, 64)
	if rest, ok = bytes.CutPrefix(rest[comma:], []byte(`,"alert":`)); err != nil || !ok {
		return json.Unmarshal(v, r)
	}
	a, n, err := ingest.ParseIncidentAlert(rest)
	if err != nil {
		return fmt.Errorf("its alert: %w", err)
	}
	*r = memberRecord{Pos: pos, Alert: a}
	switch rest = rest[n:]; {
	case string(rest) == "}":
		return nil
	case bytes.HasPrefix(rest, []byte(`,"own":`)) && rest[len(rest)-1] == '}':
		r.Own = new(ownState)
		return json.Unmarshal(rest[len(`,"own":`):len(rest)-1], r.Own)
	}
	return json.Unmarshal(v, r)
}

// state is the dedupe state r holds of its alert, nil if none.
func (r *memberRecord) state() *dedupe.State {
	if r.Dedupe != nil || r.Own == nil {
		return r.Dedupe
	}
	a, o := &r.Alert, r.Own
	st := &dedupe.State{Fingerprint: a.Fingerprint, Status: a.Status, StartsAt: a.StartsAt, Count: a.Count, FirstSeen: o.FirstSeen,
		LastSeen: a.LastSeen, Changes: o.Changes, Flapping: o.Flapping, ExpiresAt: o.ExpiresAt}
	if o.Status != nil {
		st.Status = *o.Status
	}
	if o.StartsAt != nil {
		st.StartsAt = *o.StartsAt
	}
	if o.Count != nil {
		st.Count = *o.Count
	}
	if o.LastSeen != nil {
		st.LastSeen = *o.LastSeen
	}
	return st
}

// appendOwn appends st as ownState holds it beside alert a, as
// encoding/json would write it.
func appendOwn(b []byte, a *quell.IncidentAlert, st *dedupe.State) []byte {
	b = append(b, '{')
	if st.Status != a.Status {
		b = append(quell.AppendJSONString(append(b, `"status":`...), string(st.Status)), ',')
	}
	if !sameTime(st.StartsAt, a.StartsAt) {
		b = append(quell.AppendJSONTime(append(b, `"startsAt":`...), st.StartsAt), ',')
	}
	if st.Count != a.Count {
		b = append(strconv.AppendInt(append(b, `"count":`...), int64(st.Count), 10), ',')
	}
	b = quell.AppendJSONTime(append(b, `"firstSeen":`...), st.FirstSeen)
	if !sameTime(st.LastSeen, a.LastSeen) {
		b = quell.AppendJSONTime(append(b, `,"lastSeen":`...), st.LastSeen)
	}
	if len(st.Changes) > 0 {
		b = quell.AppendJSONTimes(append(b, `,"changes":`...), st.Changes)
	}
	if st.Flapping {
		b = append(b, `,"flapping":true`...)
	}
	if !st.ExpiresAt.IsZero() {
		b = quell.AppendJSONTime(append(b, `,"expiresAt":`...), st.ExpiresAt)
	}
	return append(b, '}')
}

// sameTime tells whether x and y are written alike: the same instant in
// the same zone.
func sameTime(x, y time.Time) bool { return x.Equal(y) && x.Location() == y.Location() }

// changeTrack is what changed since the last Changes call.
type changeTrack struct {
	alerts  map[quell.Fingerprint]struct{}
	members map[memberKey]*incident
	// dropped are the incidents that left quell's memory, with their
	// members: each member's record goes. One entry an incident, not one a
	// member in members: evicting an incident of thousands of alerts cost a
	// split correlator that many entries.
	dropped   []droppedIncident
	incidents map[*incident]struct{}
	gone      map[string]bool     // the g/ records written
	scopes    map[uint64]struct{} // by key: an engine that takes the track over has scopes of its own
	// held decisions [heldLow, heldHigh) have records
	heldLow, heldHigh uint64
	learned           []uint64 // hashes of the learned chunks written
	// The last Delta's member and held decision copies, each cleared once
	// encoded, for the next Changes to fill: allocated anew each time, they
	// were a tenth of what a split correlator allocated.
	spareMembers []deltaMember
	spareHeld    []deltaHeld
	// The graph's and the teaching's versions last captured, once
	// captured: unchanged, they are not looked at again. Of the graph, the
	// first nodes and edges (in the order learned) have records, and
	// hosts is the host flag each node's record holds.
	graphVersion, taughtVersion   uint64
	graphCaptured, taughtCaptured bool
	nodes, edges                  int
	hosts                         []bool
}

type memberKey struct {
	inc string
	fp  quell.Fingerprint
}

type droppedIncident struct {
	id  string
	fps []quell.Fingerprint
}

// TrackChanges starts recording what changes, for Changes. The state as it
// is now counts as written: call it on a new engine or right after
// Restore of what the records held.
func (e *Engine) TrackChanges() {
	t := &changeTrack{
		alerts: map[quell.Fingerprint]struct{}{}, members: map[memberKey]*incident{},
		incidents: map[*incident]struct{}{}, gone: map[string]bool{}, scopes: map[uint64]struct{}{},
		heldLow: e.heldBase + uint64(e.heldHead), heldHigh: e.heldBase + uint64(len(e.held)),
	}
	for _, inc := range e.goneHeld() {
		t.gone[inc.id] = true
	}
	e.co.track()
	// The chunks are written again by the first Changes (what people
	// taught is small), and those past its count deleted: unknown hashes.
	t.learned = make([]uint64, e.chunks.n)
	if e.chunks.all {
		// Restored from state that older versions wrote, with the graph,
		// co-firing and recent signatures in the chunks: the first Changes
		// writes them as records.
		for sig, s := range e.co.sigs {
			e.co.touch(s, sig)
		}
		for key := range e.scopes {
			t.scopes[key] = struct{}{}
		}
	} else {
		g := e.graph
		t.nodes, t.edges, t.hosts = len(g.ids), len(g.edges), slices.Clone(g.host)
		t.graphVersion, t.graphCaptured = g.version, !e.relearned
	}
	e.track = t
}

// changedScope notes that an alert started firing in sc (its recent
// signatures, pace and spacing changed) or fired again (its spacing).
func (e *Engine) changedScope(sc *scope) {
	if e.track != nil {
		e.track.scopes[sc.key] = struct{}{}
	}
}

// firedAgain notes in sc's spacing that one of its alerts, named name,
// fired again at at.
func (e *Engine) firedAgain(sc *scope, at time.Time, name uint64) {
	if sc.spacing.repeat(at, name) {
		e.changedScope(sc)
	}
}

func (e *Engine) changedAlert(fp quell.Fingerprint) {
	if e.track != nil {
		e.track.alerts[fp] = struct{}{}
	}
}

func (e *Engine) changedIncident(inc *incident) {
	if e.track != nil {
		e.track.incidents[inc] = struct{}{}
	}
}

// changedMember notes a change of member fp of inc, and so of inc.
func (e *Engine) changedMember(inc *incident, fp quell.Fingerprint) {
	if e.track != nil {
		e.track.members[memberKey{inc.id, fp}] = inc
		e.track.incidents[inc] = struct{}{}
	}
}

// droppedMembers notes that inc, leaving quell's memory, holds none of its
// members any more.
func (e *Engine) droppedMembers(inc *incident) {
	if e.track != nil {
		e.track.dropped = append(e.track.dropped, droppedIncident{inc.id, inc.order})
		e.track.incidents[inc] = struct{}{}
	}
}

// Delta is what changed, as Changes captured it: copies, so that encoding
// them (Each) need not hold up the engine. They are kept by kind, to be
// encoded as such: a closure per record to encode was a tenth of what a
// split correlator allocated.
type Delta struct {
	recs      []Record // g/ records
	deleted   deleted
	incidents []IncidentState
	members   []deltaMember
	alerts    []dedupe.State
	held      []deltaHeld
	sigs      []deltaSig
	recent    []ScopeSignatures
	nodes     []deltaNode
	edges     []deltaEdge
	learned   *Learned // what people taught; nil: unchanged
	header    header
	track     *changeTrack // whose hashes of the learned chunks Each brings up to date
}

// deleted are the keys a Delta deletes, as ids and fingerprints: Each
// spells them out, off the engine's goroutine. As key strings (and the
// records holding them), a storm's deletions were half of what Changes
// allocated.
type deleted struct {
	incidents []string            // i/<id>
	members   []memberKey         // m/<id>/<fp>
	alerts    []quell.Fingerprint // a/<fp>
	gone      []string            // g/<id>
	sigs      []uint64            // c/<sig>
	// held decisions lo <= n < hi: d/<n>; learned nodes and edges from
	// their lo on, below hi (after a topology swap the graph learns anew)
	heldLo, heldHi   uint64
	nodesLo, nodesHi int
	edgesLo, edgesHi int
}

// each gives yield a deletion of every key in dl.
func (dl *deleted) each(yield func(Record) error) error {
	// Per kind, how many keys and the i-th of them.
	kinds := []struct {
		n   int
		key func(b []byte, i int) []byte
	}{
		{len(dl.incidents), func(b []byte, i int) []byte { return appendIncidentKey(b, dl.incidents[i]) }},
		{len(dl.members), func(b []byte, i int) []byte { return appendMemberKey(b, dl.members[i]) }},
		{len(dl.alerts), func(b []byte, i int) []byte { return appendAlertKey(b, dl.alerts[i]) }},
		{len(dl.gone), func(b []byte, i int) []byte { return appendGoneKey(b, dl.gone[i]) }},
		{int(dl.heldHi - dl.heldLo), func(b []byte, i int) []byte { return appendHeldKey(b, dl.heldLo+uint64(i)) }},
		{len(dl.sigs), func(b []byte, i int) []byte { return appendSigKey(b, dl.sigs[i]) }},
		{dl.nodesHi - dl.nodesLo, func(b []byte, i int) []byte { return appendNodeKey(b, dl.nodesLo+i) }},
		{dl.edgesHi - dl.edgesLo, func(b []byte, i int) []byte { return appendEdgeKey(b, dl.edgesLo+i) }},
	}
	var b []byte // each key is built here, then copied into its string
	for _, k := range kinds {
		for i := range k.n {
			b = k.key(b[:0], i)
			if err := yield(Record{Key: string(b)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// The records' keys (see Record), one function a kind, for values and
// deletions alike.
func appendIncidentKey(b []byte, id string) []byte { return append(append(b, "i/"...), id...) }
func appendGoneKey(b []byte, id string) []byte     { return append(append(b, "g/"...), id...) }
func appendHeldKey(b []byte, n uint64) []byte      { return strconv.AppendUint(append(b, "d/"...), n, 10) }
func appendSigKey(b []byte, sig uint64) []byte {
	return strconv.AppendUint(append(b, "c/"...), sig, 16)
}
func appendNodeKey(b []byte, k int) []byte {
	return strconv.AppendInt(append(b, "n/"...), int64(k), 10)
}
func appendEdgeKey(b []byte, k int) []byte {
	return strconv.AppendInt(append(b, "e/"...), int64(k), 10)
}
func appendScopeKey(b []byte, key uint64) []byte {
	return strconv.AppendUint(append(b, "r/"...), key, 16)
}
func appendAlertKey(b []byte, fp quell.Fingerprint) []byte {
	b, _ = fp.AppendText(append(b, "a/"...))
	return b
}
func appendMemberKey(b []byte, mk memberKey) []byte {
	b, _ = mk.fp.AppendText(append(append(append(b, "m/"...), mk.inc...), '/'))
	return b
}

// deltaMember is member alert of incident inc, at pos; with its alert's
// dedupe state st when withState (a value: a pointer was an allocation a
// member).
type deltaMember struct {
	inc       string
	pos       uint64
	alert     quell.IncidentAlert
	st        dedupe.State
	withState bool
}

// appendJSON appends dm's m/ record (a memberRecord, as encoding/json
// would write it; readMember reads it).
func (dm *deltaMember) appendJSON(b []byte) []byte {
	b = append(b, `{"pos":`...)
	b = strconv.AppendUint(b, dm.pos, 10)
	b = append(b, `,"alert":`...)
	b = dm.alert.AppendJSON(b)
	if dm.withState {
		b = appendOwn(append(b, `,"own":`...), &dm.alert, &dm.st)
	}
	return append(b, '}')
}

// deltaSig is the c/ record of signature sig.
type deltaSig struct {
	sig uint64
	rec coRecord
}

// deltaNode and deltaEdge are the k-th node and edge the graph learned.
type deltaNode struct {
	k   int
	rec nodeRecord
}

type deltaEdge struct {
	k     int
	names [2]string
}

// deltaHeld is held decision n, made for incident inc.
type deltaHeld struct {
	n   uint64
	d   quell.Decision
	inc string
}

// Each encodes the delta and gives yield its records (one per key, in no
// order) one at a time: a record's Value is valid only until yield returns,
// so that a checkpoint of a storm (hundreds of thousands of records) is
// never held encoded all at once. Written over the earlier ones, the
// records hold what Snapshot returned when Changes captured it (see
// FromRecords). Call it once, and before the next Changes (which compares
// what was learned with what this one wrote); it is safe to call while the
// engine goes on.
func (d *Delta) Each(yield func(Record) error) error {
	for _, r := range d.recs {
		if err := yield(r); err != nil {
			return err
		}
	}
	if err := d.deleted.each(yield); err != nil {
		return err
	}
	// Each copy is dropped once encoded: what it holds may go.
	var b, kb []byte // a value, its key
	for i := range d.incidents {
		is := &d.incidents[i]
		b = is.appendJSON(b[:0])
		kb = appendIncidentKey(kb[:0], is.ID)
		if err := yield(Record{Key: string(kb), Value: b}); err != nil {
			return err
		}
		*is = IncidentState{}
	}
	for i := range d.members {
		dm := &d.members[i]
		b = dm.appendJSON(b[:0])
		kb = appendMemberKey(kb[:0], memberKey{dm.inc, dm.alert.Fingerprint})
		if err := yield(Record{Key: string(kb), Value: b}); err != nil {
			return err
		}
		*dm = deltaMember{}
	}
	for i := range d.alerts {
		st := &d.alerts[i]
		b = st.AppendJSON(b[:0])
		kb = appendAlertKey(kb[:0], st.Fingerprint)
		if err := yield(Record{Key: string(kb), Value: b}); err != nil {
			return err
		}
		*st = dedupe.State{}
	}
	for i := range d.held {
		h := &d.held[i]
		b = append(b[:0], `{"decision":`...)
		b = h.d.AppendJSON(b)
		b = append(b, `,"incident":`...)
		b = strconv.AppendQuote(b, h.inc) // an id is hex
		b = append(b, '}')
		kb = appendHeldKey(kb[:0], h.n)
		if err := yield(Record{Key: string(kb), Value: b}); err != nil {
			return err
		}
		*h = deltaHeld{}
	}
	for i := range d.sigs {
		ds := &d.sigs[i]
		b = ds.rec.appendJSON(b[:0])
		kb = appendSigKey(kb[:0], ds.sig)
		if err := yield(Record{Key: string(kb), Value: b}); err != nil {
			return err
		}
	}
	// The graph's and the scopes' records are few: encoding/json's.
	encode := func(key []byte, v any) error {
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", key, err)
		}
		return yield(Record{Key: string(key), Value: vb})
	}
	for _, dn := range d.nodes {
		if err := encode(appendNodeKey(kb[:0], dn.k), dn.rec); err != nil {
			return err
		}
	}
	for _, de := range d.edges {
		if err := encode(appendEdgeKey(kb[:0], de.k), de.names); err != nil {
			return err
		}
	}
	for _, ss := range d.recent {
		if err := encode(appendScopeKey(kb[:0], ss.Scope), ss); err != nil {
			return err
		}
	}
	if err := d.eachLearned(yield); err != nil {
		return err
	}
	d.track.spareMembers, d.track.spareHeld = d.members[:0], d.held[:0] // each cleared above
	*d = Delta{}
	return nil
}

// spare takes the slice *s left for reuse when it has room for n, else
// makes one.
func spare[T any](s *[]T, n int) []T {
	out := *s
	*s = nil
	if cap(out) < n {
		return make([]T, 0, n)
	}
	return out
}

// Changes captures what changed since the last call (or since
// TrackChanges); encode it with Records.
func (e *Engine) Changes() (*Delta, error) {
	t := e.track
	if t == nil {
		return nil, fmt.Errorf("correlate: Changes without TrackChanges")
	}
	// Sized for what is known to have changed: grown by appends, this was
	// a twentieth of what a split correlator allocated. Not the a/ records:
	// an alert's state rides in its member, and most alerts in t.alerts
	// were forgotten.
	d := &Delta{incidents: make([]IncidentState, 0, len(t.incidents)), members: spare(&t.spareMembers, len(t.members))}
	dl := &d.deleted
	leaving := len(t.members)
	for _, di := range t.dropped {
		leaving += len(di.fps)
	}
	dl.members = make([]memberKey, 0, leaving)
	dl.alerts = make([]quell.Fingerprint, 0, len(t.alerts))
	put := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", key, err)
		}
		d.recs = append(d.recs, Record{Key: key, Value: b})
		return nil
	}
	for inc := range t.incidents {
		if live, ok := e.incidents[inc.id]; live != inc {
			if !ok { // else a new incident under its id writes the key
				dl.incidents = append(dl.incidents, inc.id)
			}
			continue
		}
		d.incidents = append(d.incidents, e.incidentState(inc))
	}
	goneMember := func(mk memberKey) {
		dl.members = append(dl.members, mk)
		t.alerts[mk.fp] = struct{}{} // if it held the alert's state, the state moves
	}
	for _, di := range t.dropped {
		now := e.incidents[di.id] // a new incident under its id writes the keys it holds
		for _, fp := range di.fps {
			if now == nil || now.members[fp] == nil {
				goneMember(memberKey{di.id, fp})
			}
		}
	}
	// A member of a dropped incident that changed before is in both: the
	// state log deletes a key once.
	for mk, inc := range t.members {
		live := inc.members[mk.fp]
		if e.incidents[inc.id] != inc || live == nil {
			goneMember(mk)
			continue
		}
		var st *dedupe.State
		if e.incidentOf(mk.fp) == inc { // the alert's own: its record holds its state
			if st = e.tracker.Get(mk.fp); st != nil {
				delete(t.alerts, mk.fp) // nothing left to write for it: in a storm, most alerts
			}
		}
		d.members = append(d.members, deltaOf(inc, live, st))
	}
	for fp := range t.alerts {
		live := e.tracker.Get(fp)
		if live == nil {
			dl.alerts = append(dl.alerts, fp)
			continue
		}
		inc := e.incidentOf(fp)
		var own *member
		if inc != nil && e.incidents[inc.id] == inc {
			own = inc.members[fp]
		}
		switch {
		case own == nil:
			d.alerts = append(d.alerts, copyState(live))
		case t.members[memberKey{inc.id, fp}] != inc: // else its record, written above, holds the state
			// An a/ record of it, if any, is older: FromRecords prefers this one.
			d.members = append(d.members, deltaOf(inc, own, live))
		}
	}
	// New sets, not cleared ones: clearing a map costs what it once held,
	// so after a storm every checkpoint paid milliseconds of the engine's
	// time for a handful of changes.
	t.alerts = map[quell.Fingerprint]struct{}{}
	t.members = map[memberKey]*incident{}
	t.incidents = map[*incident]struct{}{}
	t.dropped = nil

	// Held decisions: records for the new ones, deletions for those emitted.
	head, tail := e.heldBase+uint64(e.heldHead), e.heldBase+uint64(len(e.held))
	dl.heldLo, dl.heldHi = t.heldLow, max(t.heldLow, min(head, t.heldHigh))
	from := max(t.heldHigh, head)
	// A storm holds tens of thousands: grown by appends, they were a
	// sixteenth of what a split correlator allocated.
	d.held = spare(&t.spareHeld, int(max(tail, from)-from))
	for n := from; n < tail; n++ {
		h := &e.held[n-e.heldBase]
		d.held = append(d.held, deltaHeld{n, h.d, h.inc.id})
	}
	t.heldLow, t.heldHigh = max(t.heldLow, head), max(t.heldHigh, tail)

	gone := map[string]bool{}
	for _, inc := range e.goneHeld() {
		gone[inc.id] = true
		if !t.gone[inc.id] {
			if err := put(string(appendGoneKey(nil, inc.id)), goneIncident(inc)); err != nil {
				return nil, err
			}
		}
	}
	for id := range t.gone {
		if !gone[id] {
			dl.gone = append(dl.gone, id)
		}
	}
	t.gone = gone

	// What was learned: each signature whose co-firing changed, each scope
	// where alerts started, and the graph and the teaching when they
	// changed; those and the header that counts their chunks are encoded by
	// Each, too long a pause for the engine.
	d.sigs = make([]deltaSig, 0, len(e.co.changed))
	e.co.takeChanged(func(sig uint64, s *coSig) {
		if rec, ok := s.record(); ok {
			d.sigs = append(d.sigs, deltaSig{sig, rec})
		} else {
			dl.sigs = append(dl.sigs, sig)
		}
	})
	for key := range t.scopes {
		if sc := e.scopes[key]; sc != nil { // nil: a topology swap dropped it, as it had seen nothing
			if ss, ok := sc.signatures(); ok {
				d.recent = append(d.recent, ss)
			}
		}
	}
	clear(t.scopes)
	if !t.graphCaptured || t.graphVersion != e.graph.version {
		e.graphChanges(d, t)
	}
	if !t.taughtCaptured || t.taughtVersion != e.taught.version {
		d.learned = &Learned{Taught: e.taught.state()}
	}
	t.graphVersion, t.taughtVersion, t.graphCaptured, t.taughtCaptured = e.graph.version, e.taught.version, true, true
	d.header, d.track = header{Now: e.now, HeldBase: head}, t
	return d, nil
}

// graphChanges adds to d the records of the nodes and edges the graph
// learned since the last Changes, and of nodes since found to be machines;
// after a topology swap (not captured), which numbers them anew, all of
// them, and deletions of those it no longer has.
func (e *Engine) graphChanges(d *Delta, t *changeTrack) {
	g := e.graph
	if !t.graphCaptured {
		d.deleted.nodesLo, d.deleted.nodesHi = len(g.ids), max(len(g.ids), t.nodes)
		d.deleted.edgesLo, d.deleted.edgesHi = len(g.edges), max(len(g.edges), t.edges)
		t.nodes, t.edges, t.hosts = 0, 0, nil
	}
	for k := range t.nodes {
		if g.host[k] != t.hosts[k] {
			d.nodes = append(d.nodes, deltaNode{k, nodeRecord{g.ids[k], g.host[k]}})
		}
	}
	for k := t.nodes; k < len(g.ids); k++ {
		d.nodes = append(d.nodes, deltaNode{k, nodeRecord{g.ids[k], g.host[k]}})
	}
	for k := t.edges; k < len(g.edges); k++ {
		d.edges = append(d.edges, deltaEdge{k, [2]string{g.name(g.edges[k][0]), g.name(g.edges[k][1])}})
	}
	t.nodes, t.edges, t.hosts = len(g.ids), len(g.edges), append(t.hosts[:0], g.host...)
}

// deltaOf copies member m of inc for a record, with its alert's dedupe
// state st unless nil.
func deltaOf(inc *incident, m *member, st *dedupe.State) deltaMember {
	// A copy: its label and annotation maps are replaced, never changed.
	dm := deltaMember{inc: inc.id, pos: m.pos, alert: m.IncidentAlert}
	if st != nil {
		dm.st, dm.withState = copyState(st), true
	}
	return dm
}

func copyState(st *dedupe.State) dedupe.State {
	c := *st
	c.Changes = slices.Clone(c.Changes)
	return c
}

// eachLearned gives yield the chunks of what people taught that changed
// since the last checkpoint (chunk hashes tell), deletions of those no
// longer needed, and then the header.
func (d *Delta) eachLearned(yield func(Record) error) error {
	t := d.track
	if d.learned == nil {
		d.header.Learned = len(t.learned)
		return d.yieldHeader(yield)
	}
	b, err := json.Marshal(d.learned)
	if err != nil {
		return fmt.Errorf("encoding what was learned: %w", err)
	}
	var hashes []uint64
	for c := range slices.Chunk(b, learnedChunk) {
		i := len(hashes)
		hashes = append(hashes, xxhash.Sum64(c))
		if i < len(t.learned) && t.learned[i] == hashes[i] {
			continue
		}
		if err := yield(Record{Key: "l/" + strconv.Itoa(i), Value: c}); err != nil {
			return err
		}
	}
	for i := len(hashes); i < len(t.learned); i++ {
		if err := yield(Record{Key: "l/" + strconv.Itoa(i)}); err != nil {
			return err
		}
	}
	t.learned = hashes
	d.header.Learned = len(hashes)
	return d.yieldHeader(yield)
}

func (d *Delta) yieldHeader(yield func(Record) error) error {
	h, err := json.Marshal(d.header)
	if err != nil {
		return fmt.Errorf("encoding the header: %w", err)
	}
	return yield(Record{Key: "h", Value: h})
}

// appendJSON appends r as encoding/json would write it.
func (r *coRecord) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if r.Seen != 0 {
		b = strconv.AppendUint(append(b, `"seen":`...), uint64(r.Seen), 10)
	}
	if len(r.With) > 0 {
		if r.Seen != 0 {
			b = append(b, ',')
		}
		b = appendInts(append(b, `"with":`...), r.With)
		b = appendInts(append(b, `,"n":`...), r.N)
	}
	return append(b, '}')
}

// appendInts appends xs as a JSON array.
func appendInts[T uint32 | uint64 | int64](b []byte, xs []T) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		if x < 0 {
			b = append(b, '-')
			x = -x // as uint64, right for the most negative int64 too
		}
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	return append(b, ']')
}

// mergeLearned puts the c/, r/, n/ and e/ records into what the learned
// chunks held, in the order Snapshot has them. State written by older
// versions kept co-firing, recent signatures and the graph in the chunks;
// the first checkpoint of this one writes a record for each, so records,
// when there are any, are all of it.
func mergeLearned(l *Learned, sigs map[uint64]coRecord, recent map[uint64]ScopeSignatures, nodes map[int]nodeRecord, edges map[int][2]string) error {
	if len(sigs) > 0 {
		co := CooccurState{Seen: map[uint64]uint32{}}
		for sig, r := range sigs {
			if r.Seen > 0 {
				co.Seen[sig] = r.Seen
			}
			if len(r.With) > 0 {
				co.Partners = append(co.Partners, CoPartners{Sig: sig, With: r.With, N: r.N})
			}
		}
		slices.SortFunc(co.Partners, func(a, b CoPartners) int { return cmp.Compare(a.Sig, b.Sig) })
		l.Cooccur = co
	}
	if len(recent) > 0 {
		l.Recent = slices.SortedFunc(maps.Values(recent), func(a, b ScopeSignatures) int { return cmp.Compare(a.Scope, b.Scope) })
	}
	if len(nodes) > 0 || len(edges) > 0 {
		gs := GraphState{}
		for k := range len(nodes) {
			n, ok := nodes[k]
			if !ok {
				return fmt.Errorf("learned node n/%d of %d missing", k, len(nodes))
			}
			gs.Nodes = append(gs.Nodes, n.Name)
			if n.Host {
				gs.Hosts = append(gs.Hosts, n.Name)
			}
		}
		for k := range len(edges) {
			ed, ok := edges[k]
			if !ok {
				return fmt.Errorf("learned edge e/%d of %d missing", k, len(edges))
			}
			gs.Edges = append(gs.Edges, ed)
		}
		l.Graph = gs
	}
	return nil
}

// appendJSON appends what incidentState fills in, as encoding/json would
// write it.
func (is *IncidentState) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = quell.AppendJSONString(b, is.ID)
	b = append(b, `,"status":`...)
	b = quell.AppendJSONString(b, string(is.Status))
	b = append(b, `,"title":`...)
	b = quell.AppendJSONString(b, is.Title)
	b = append(b, `,"severity":`...)
	b = quell.AppendJSONString(b, string(is.Severity))
	b = append(b, `,"createdAt":`...)
	b = quell.AppendJSONTime(b, is.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = quell.AppendJSONTime(b, is.UpdatedAt)
	b = append(b, `,"resolvedAt":`...)
	b = quell.AppendJSONTime(b, is.ResolvedAt)
	if is.ResolvedBy != "" {
		b = append(b, `,"resolvedBy":`...)
		b = quell.AppendJSONString(b, is.ResolvedBy)
	}
	if !is.AcknowledgedAt.IsZero() {
		b = append(b, `,"acknowledgedAt":`...)
		b = quell.AppendJSONTime(b, is.AcknowledgedAt)
	}
	if is.AcknowledgedBy != "" {
		b = append(b, `,"acknowledgedBy":`...)
		b = quell.AppendJSONString(b, is.AcknowledgedBy)
	}
	if is.AssignedTo != "" {
		b = append(b, `,"assignedTo":`...)
		b = quell.AppendJSONString(b, is.AssignedTo)
	}
	b = append(b, `,"alerts":null,"scope":`...)
	b = strconv.AppendUint(b, is.Scope, 10)
	b = append(b, `,"lastActivity":`...)
	b = quell.AppendJSONTime(b, is.LastActivity)
	b = append(b, `,"lastHeard":`...)
	b = quell.AppendJSONTime(b, is.LastHeard)
	b = append(b, `,"lastSeen":`...)
	b = quell.AppendJSONTime(b, is.LastSeen)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, is.Seq, 10)
	b = append(b, `,"announced":`...)
	b = strconv.AppendBool(b, is.Announced)
	if is.Reopened {
		b = append(b, `,"reopened":true`...)
	}
	if is.Cadence != 0 {
		b = append(b, `,"cadence":`...)
		b = strconv.AppendInt(b, int64(is.Cadence), 10)
	}
	if is.Pending {
		b = append(b, `,"pending":true`...)
	}
	if len(is.Sigs) > 0 {
		b = appendInts(append(b, `,"sigs":`...), is.Sigs)
	}
	if len(is.SigsAt) > 0 {
		b = appendInts(append(b, `,"sigsAt":`...), is.SigsAt)
	}
	if len(is.SigsStarts) > 0 {
		b = appendInts(append(b, `,"sigsStarts":`...), is.SigsStarts)
	}
	if is.Joins != 0 {
		b = append(b, `,"joins":`...)
		b = strconv.AppendUint(b, is.Joins, 10)
	}
	return append(b, '}')
}

// FromRecords assembles a Snapshot from the latest value of every key
// Changes wrote (deleted keys absent).
func FromRecords(recs map[string][]byte) (Snapshot, error) {
	s := Snapshot{Alerts: []*dedupe.State{}} // as Snapshot has it
	var h header
	hb, ok := recs["h"]
	if !ok {
		return s, fmt.Errorf("correlator state: no header record (h)")
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return s, fmt.Errorf("correlator state: header: %w", err)
	}
	s.Now, s.HeldBase, s.chunks.n = h.Now, h.HeldBase, h.Learned
	var learned []byte
	for i := range h.Learned {
		c, ok := recs["l/"+strconv.Itoa(i)]
		if !ok {
			return s, fmt.Errorf("correlator state: learned chunk l/%d of %d missing", i, h.Learned)
		}
		learned = append(learned, c...)
	}
	if len(learned) > 0 {
		if err := json.Unmarshal(learned, &s.Learned); err != nil {
			return s, fmt.Errorf("correlator state: learned: %w", err)
		}
		l := &s.Learned
		s.chunks.all = len(l.Graph.Nodes) > 0 || len(l.Cooccur.Partners) > 0 || len(l.Cooccur.Seen) > 0 || len(l.Recent) > 0
	}
	incs := map[string]*IncidentState{}
	type ofIncident struct {
		inc string
		memberRecord
	}
	loose := map[quell.Fingerprint]*dedupe.State{} // a/ records
	var members []ofIncident
	var held []uint64
	heldByN := map[uint64]HeldDecision{}
	sigs := map[uint64]coRecord{}
	recent := map[uint64]ScopeSignatures{}
	nodes, edges := map[int]nodeRecord{}, map[int][2]string{}
	for key, v := range recs {
		kind, rest, _ := strings.Cut(key, "/")
		var err error
		switch kind {
		case "i":
			var is IncidentState
			err = json.Unmarshal(v, &is)
			incs[is.ID] = &is
		case "m":
			id, _, _ := strings.Cut(rest, "/")
			m := ofIncident{inc: id}
			err = readMember(v, &m.memberRecord)
			members = append(members, m)
		case "a":
			st := new(dedupe.State)
			err = json.Unmarshal(v, st)
			loose[st.Fingerprint] = st
		case "d":
			n, perr := strconv.ParseUint(rest, 10, 64)
			var hd HeldDecision
			err = cmp.Or(perr, json.Unmarshal(v, &hd))
			held = append(held, n)
			heldByN[n] = hd
		case "g":
			var g GoneIncident
			err = json.Unmarshal(v, &g)
			s.Gone = append(s.Gone, g)
		case "c":
			sig, perr := strconv.ParseUint(rest, 16, 64)
			var r coRecord
			err = cmp.Or(perr, json.Unmarshal(v, &r))
			sigs[sig] = r
		case "r":
			var ss ScopeSignatures
			err = json.Unmarshal(v, &ss)
			recent[ss.Scope] = ss
		case "n":
			k, perr := strconv.Atoi(rest)
			var n nodeRecord
			err = cmp.Or(perr, json.Unmarshal(v, &n))
			nodes[k] = n
		case "e":
			k, perr := strconv.Atoi(rest)
			var ed [2]string
			err = cmp.Or(perr, json.Unmarshal(v, &ed))
			edges[k] = ed
		}
		if err != nil {
			return s, fmt.Errorf("correlator state: record %s: %w", key, err)
		}
	}
	if err := mergeLearned(&s.Learned, sigs, recent, nodes, edges); err != nil {
		return s, fmt.Errorf("correlator state: %w", err)
	}
	slices.SortFunc(members, func(a, b ofIncident) int { return cmp.Compare(a.Pos, b.Pos) })
	// A member's dedupe state is newer than an a/ record of its alert:
	// Changes writes one of them, and leaves an a/ record that an alert
	// outgrew until the alert is forgotten.
	own := map[quell.Fingerprint]*IncidentState{}
	for _, m := range members {
		is := incs[m.inc]
		if is == nil {
			return s, fmt.Errorf("correlator state: member %s of incident %s, which has no record", m.Alert.Fingerprint, m.inc)
		}
		is.Alerts = append(is.Alerts, m.Alert)
		is.Pos = append(is.Pos, m.Pos)
		// Two would be a bug; the incident Restore makes the alert's own wins.
		if st, fp := m.state(), m.Alert.Fingerprint; st != nil {
			if prev := own[fp]; prev == nil || !is.CreatedAt.Before(prev.CreatedAt) {
				own[fp], loose[fp] = is, st
			}
		}
	}
	for _, st := range loose {
		s.Alerts = append(s.Alerts, st)
	}
	for _, is := range incs {
		if is.Alerts == nil { // every alert left it: as Snapshot has it
			is.Alerts = []quell.IncidentAlert{}
		}
		s.Incidents = append(s.Incidents, *is)
	}
	slices.SortFunc(s.Incidents, byCreation)
	slices.SortFunc(s.Alerts, func(a, b *dedupe.State) int { return cmp.Compare(a.Fingerprint, b.Fingerprint) })
	slices.SortFunc(s.Gone, func(a, b GoneIncident) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(held)
	for i, n := range held {
		if n != s.HeldBase+uint64(i) {
			return s, fmt.Errorf("correlator state: held decision %d missing (held from %d)", s.HeldBase+uint64(i), s.HeldBase)
		}
		s.Held = append(s.Held, heldByN[n])
	}
	return s, nil
}
