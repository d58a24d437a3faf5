// Package timeline keeps what happened to each incident, for people to
// read on the embedded default (the console's timeline): the decisions
// that opened it, placed, moved and resolved its alerts, with their
// reasons, what people did and when, and the incident's own changes.
// Repeats are left out (each alert counts its own). It is bounded in bytes
// (the incidents least recently touched go first) and per incident (its
// latest events), and kept in a file of the data dir across restarts.
package timeline

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/jsonl"
	"github.com/quellhq/quell/sinks"
)

// File is the timeline's file in the data dir: one event a line.
const File = "timeline.jsonl"

// MaxEvents bounds what one incident keeps: its latest events.
const MaxEvents = 500

// Event is one thing that happened to an incident.
type Event struct {
	At       time.Time `json:"at"`
	Incident string    `json:"incident"`
	// Kind is the decision's action (created, joined, resolved, suppressed,
	// acknowledged, merged, moved) or, for the incident's own changes,
	// "incident " and the change (incident created, incident resolved, ...).
	Kind   string            `json:"kind"`
	Alert  quell.Fingerprint `json:"alert,omitempty"`
	Title  string            `json:"title,omitempty"` // the alert, for people: its name and what it is about
	Reason string            `json:"reason,omitempty"`
	Actor  string            `json:"actor,omitempty"`
	Via    string            `json:"via,omitempty"` // the ITSM tool the actor acted in
}

// AppendJSON appends e's JSON, as encoding/json writes it: a storm's
// decisions are each an event, and reflection cost more than the rest of
// keeping them.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"at":`...)
	b = quell.AppendJSONTime(b, e.At)
	b = append(b, `,"incident":`...)
	b = quell.AppendJSONString(b, e.Incident)
	b = append(b, `,"kind":`...)
	b = quell.AppendJSONString(b, e.Kind)
	if e.Alert != 0 {
		b = append(b, `,"alert":"`...)
		b, _ = e.Alert.AppendText(b)
		b = append(b, '"')
	}
	for _, f := range [...]struct{ name, v string }{{`,"title":`, e.Title}, {`,"reason":`, e.Reason}, {`,"actor":`, e.Actor}, {`,"via":`, e.Via}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = quell.AppendJSONString(b, f.v)
		}
	}
	return append(b, '}')
}

func (e *Event) size() int64 {
	return int64(160 + len(e.Incident) + len(e.Kind) + len(e.Title) + len(e.Reason) + len(e.Actor) + len(e.Via))
}

// Timeline is the events kept; safe for concurrent use. It is a sink.
type Timeline struct {
	mu       sync.RWMutex
	byInc    map[string]*events
	bytes    int64
	maxBytes int64
	path     string
	f        *jsonl.File
}

type events struct {
	list    []Event
	dropped int // events let go past MaxEvents
	bytes   int64
	last    time.Time
}

// Open loads the timeline in dir (none yet is fine) within maxBytes and
// rewrites its file with what it kept.
func Open(dir string, maxBytes int64) (*Timeline, error) {
	t := &Timeline{byInc: map[string]*events{}, maxBytes: maxBytes, path: filepath.Join(dir, File)}
	if err := t.load(); err != nil {
		return nil, err
	}
	if err := t.rewrite(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Timeline) load() error {
	if err := jsonl.Read(t.path, t.add); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	t.trim()
	return nil
}

// add keeps e; t.mu is held.
func (t *Timeline) add(e Event) {
	es := t.byInc[e.Incident]
	if es == nil {
		es = &events{}
		t.byInc[e.Incident] = es
	}
	es.list = append(es.list, e)
	es.bytes += e.size()
	t.bytes += e.size()
	if e.At.After(es.last) {
		es.last = e.At
	}
	if len(es.list) > MaxEvents {
		gone := es.list[0].size()
		// Sliced off, not shifted: appends copy the rest into a new array
		// only once in a while, where a shift copied it at every event.
		es.list[0] = Event{}
		es.list = es.list[1:]
		es.bytes -= gone
		t.bytes -= gone
		es.dropped++
	}
}

// trim lets go of the incidents touched longest ago until within
// maxBytes; t.mu is held.
func (t *Timeline) trim() {
	if t.bytes <= t.maxBytes {
		return
	}
	ids := make([]string, 0, len(t.byInc))
	for id := range t.byInc {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(t.byInc[a].last.Compare(t.byInc[b].last), cmp.Compare(a, b)) })
	for _, id := range ids {
		if t.bytes <= t.maxBytes*3/4 { // room to grow before the next trim
			break
		}
		t.bytes -= t.byInc[id].bytes
		delete(t.byInc, id)
	}
}

func (t *Timeline) rewrite() error {
	if t.f != nil {
		t.f.Close()
	}
	f, err := jsonl.Create(t.path, func(yield func(any) bool) {
		for _, es := range t.byInc {
			for i := range es.list {
				if !yield(&es.list[i]) {
					return
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	t.f = f
	return nil
}

func (t *Timeline) Name() string { return "timeline" }

// kept tells whether a decision is an event: repeats are not (each alert
// counts its own), nor decisions that name no incident.
func kept(d *quell.Decision) bool {
	return d.Action != quell.ActionDeduplicated && d.Incident != ""
}

// Write keeps the events of a batch: its decisions but repeats, and its
// incident changes but updates (their decisions tell them).
func (t *Timeline) Write(_ context.Context, b sinks.Batch) error {
	n := len(b.Changes)
	for i := range b.Decisions {
		if kept(&b.Decisions[i]) {
			n++
		}
	}
	evs := make([]Event, 0, n) // sized once: in a storm every new alert's decision is an event
	for i := range b.Decisions {
		d := &b.Decisions[i]
		if !kept(d) {
			continue
		}
		e := Event{At: d.At, Incident: d.Incident, Kind: string(d.Action), Reason: d.Reason, Actor: d.Actor, Via: d.Via}
		if d.Alert.Labels != nil {
			e.Alert, e.Title = d.Alert.Fingerprint, correlate.Title(&d.Alert)
		}
		evs = append(evs, e)
	}
	for i := range b.Changes {
		c := &b.Changes[i]
		if c.Kind == quell.IncidentUpdated {
			continue
		}
		e := Event{At: c.At, Incident: c.Incident.ID, Kind: "incident " + string(c.Kind), Title: c.Incident.Title}
		switch {
		case c.Kind == quell.IncidentMerged:
			e.Reason, e.Actor = "merged into incident "+c.Incident.MergedInto, c.Incident.ResolvedBy
		case c.Kind == quell.IncidentResolve && c.Incident.ResolvedBy != "":
			e.Reason, e.Actor = "resolved by "+c.Incident.ResolvedBy, c.Incident.ResolvedBy
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range evs {
		t.add(e)
		if err := t.f.Append(&e); err != nil {
			return fmt.Errorf("timeline: %w", err)
		}
	}
	if err := t.f.Flush(); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	t.trim()
	// The file keeps what was let go until it is twice the bound (read
	// back, it is trimmed again): rewritten on every trim, it cost a storm
	// of new alerts more than appending their decisions.
	if t.f.Written() > 2*t.maxBytes {
		return t.rewrite()
	}
	return nil
}

func (t *Timeline) Close(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// Of returns an incident's events, oldest first, and how many earlier ones
// were let go.
func (t *Timeline) Of(id string) ([]Event, int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	es := t.byInc[id]
	if es == nil {
		return nil, 0
	}
	out := slices.Clone(es.list)
	slices.SortStableFunc(out, func(a, b Event) int { return a.At.Compare(b.At) })
	return out, es.dropped
}
