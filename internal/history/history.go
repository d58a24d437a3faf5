// Package history keeps resolved incidents readable after the correlator
// forgets them (past its reopen window, or evicted to stay within its
// memory bound, which may drop an open one): the API serves them by id and in
// its resolved list on the embedded default, without ClickHouse. They are
// kept for a number of days and within a byte bound, in memory and in a
// file of the data dir, so that a restart keeps them too. Of each, its kind
// (correlate.Signature) and when it resolved are kept longer, RecurFor, so
// that an incident says how often its kind came back in that time.
package history

import (
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

// File is the history's file in the data dir: one incident a line, the
// last line of an id winning; a line of one that reopened (not resolved)
// lets it go; a line {"seen": ...} is the kind of one no longer kept whole.
const File = "history.jsonl"

// RecurFor is how long an incident's kind is remembered for recurrence.
const RecurFor = 30 * 24 * time.Hour

// seenSize is what one remembered kind holds in memory.
const seenSize = 128

// Store is the resolved incidents kept; safe for concurrent use. It is a
// sink: it takes resolved incidents from the changes it is given.
type Store struct {
	mu       sync.RWMutex
	byID     map[string]*entry
	seen     map[string]map[string]time.Time // signature → id → when it resolved, for RecurFor
	seenN    int
	bytes    int64
	maxBytes int64
	keep     time.Duration
	path     string
	f        *jsonl.File
}

type entry struct {
	inc  quell.Incident
	sig  string // its kind (correlate.Signature)
	size int64
}

// size estimates what an incident holds in memory.
func size(inc *quell.Incident) int64 {
	n := int64(256 + len(inc.Title))
	for i := range inc.Alerts {
		n += int64(inc.Alerts[i].Size())
	}
	return n
}

// Open loads the history in dir (none yet is fine), drops what is older
// than keep or past maxBytes (the oldest resolved first), and rewrites the
// file with what it kept.
func Open(dir string, keep time.Duration, maxBytes int64) (*Store, error) {
	s := &Store{byID: map[string]*entry{}, seen: map[string]map[string]time.Time{}, maxBytes: maxBytes, keep: keep, path: filepath.Join(dir, File)}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.trim(time.Now())
	if err := s.rewrite(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	err := jsonl.Read(s.path, func(l line) {
		switch {
		case l.Seen != nil:
			s.see(l.Seen.Signature, l.Seen.ID, l.Seen.ResolvedAt)
		case l.Status == quell.IncidentResolved:
			s.put(l.Incident)
		default:
			s.reopened(l.ID)
		}
	})
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// line is one line of the file: an incident, or the kind of one.
type line struct {
	quell.Incident
	Seen *seenLine `json:"seen,omitempty"`
}

type seenLine struct {
	ID         string    `json:"id"`
	Signature  string    `json:"signature"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

// see remembers that incident id of kind sig resolved at; s.mu is held.
func (s *Store) see(sig, id string, at time.Time) {
	if s.seen[sig] == nil {
		s.seen[sig] = map[string]time.Time{}
	}
	if _, ok := s.seen[sig][id]; !ok {
		s.seenN++
	}
	s.seen[sig][id] = at
}

// forgetSeen forgets that incident id is of kind sig, if it was kept.
func (s *Store) forgetSeen(sig, id string) {
	if _, ok := s.seen[sig][id]; !ok {
		return
	}
	if delete(s.seen[sig], id); len(s.seen[sig]) == 0 {
		delete(s.seen, sig)
	}
	s.seenN--
}

// reopened lets go of incident id and of its kind: it is not resolved any
// more; s.mu is held.
func (s *Store) reopened(id string) {
	if e := s.byID[id]; e != nil {
		s.forgetSeen(e.sig, id)
		s.remove(id)
	}
}

// put keeps inc, replacing an earlier copy; s.mu is held.
func (s *Store) put(inc quell.Incident) {
	s.reopened(inc.ID) // its kind may have changed since
	e := &entry{inc: inc, sig: correlate.Signature(&inc), size: size(&inc)}
	s.byID[inc.ID] = e
	// A duplicate is its survivor's occurrence, not one of its own; an
	// evicted incident ended for quell's memory, not because its problem did.
	if inc.MergedInto == "" && !inc.Evicted {
		s.see(e.sig, inc.ID, inc.ResolvedAt)
	}
	s.bytes += e.size
}

// remove lets go of id; s.mu is held.
func (s *Store) remove(id string) {
	e := s.byID[id]
	if e == nil {
		return
	}
	s.bytes -= e.size
	delete(s.byID, id)
}

// trim drops what is past keep and, over maxBytes, the evicted incidents
// and then the oldest resolved until within trimmed: evicted ones take
// only the room that resolved incidents leave, and trimming is not paid
// again for every batch after.
// It drops the kinds past RecurFor too, then the oldest until they hold a
// quarter of maxBytes; s.mu is held.
func (s *Store) trim(now time.Time) {
	s.trimSeen(now)
	var all []*entry
	for id, e := range s.byID {
		if now.Sub(e.inc.ResolvedAt) > s.keep {
			s.remove(id)
			continue
		}
		all = append(all, e)
	}
	if s.bytes <= s.maxBytes {
		return
	}
	slices.SortFunc(all, func(a, b *entry) int {
		switch {
		case a.inc.Evicted && !b.inc.Evicted:
			return -1
		case b.inc.Evicted && !a.inc.Evicted:
			return 1
		}
		return a.inc.ResolvedAt.Compare(b.inc.ResolvedAt)
	})
	for _, e := range all {
		if s.bytes <= s.trimmed() {
			break
		}
		s.remove(e.inc.ID)
	}
}

// trimmed is what the history holds once trimmed past its bound, three
// quarters of it: all that evicted incidents may take.
func (s *Store) trimmed() int64 { return s.maxBytes * 3 / 4 }

func (s *Store) trimSeen(now time.Time) {
	type seenAt struct {
		sig, id string
		at      time.Time
	}
	var all []seenAt
	for sig, ids := range s.seen {
		for id, at := range ids {
			if now.Sub(at) > RecurFor {
				s.forgetSeen(sig, id)
				continue
			}
			all = append(all, seenAt{sig, id, at})
		}
	}
	over := s.seenN - int(s.maxBytes/4/seenSize)
	if over <= 0 {
		return
	}
	slices.SortFunc(all, func(a, b seenAt) int { return a.at.Compare(b.at) })
	for _, e := range all[:over] {
		s.forgetSeen(e.sig, e.id)
	}
}

// rewrite writes what is kept to a new file and puts it in place; s.mu is
// held (or s not yet shared).
func (s *Store) rewrite() error {
	if s.f != nil {
		s.f.Close()
	}
	f, err := jsonl.Create(s.path, func(yield func(any) bool) {
		for _, e := range s.byID {
			if !yield(&e.inc) { // a pointer: it writes its own JSON (jsonl.Appender)
				return
			}
		}
		for sig, ids := range s.seen {
			for id, at := range ids {
				if s.byID[id] == nil && !yield(line{Seen: &seenLine{ID: id, Signature: sig, ResolvedAt: at}}) { // a kept one's line says it
					return
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	s.f = f
	return nil
}

func (s *Store) Name() string { return "history" }

// Write keeps the incidents that resolved, merged into another or were
// evicted (while there is room), and lets go of those that reopened (the
// correlator serves them again).
func (s *Store) Write(_ context.Context, b sinks.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range b.Changes {
		c := &b.Changes[i]
		rec := c.Incident
		switch c.Kind {
		case quell.IncidentEvicted:
			// Evicted incidents take only the room resolved ones leave: in a
			// flood the bound evicts thousands a second, and keeping each
			// would slow the flood's handling for a history it overwrites.
			if room := s.trimmed() - s.bytes; room <= 0 || size(&rec) > room {
				continue
			}
			s.put(rec)
		case quell.IncidentResolve, quell.IncidentMerged:
			s.put(rec)
		case quell.IncidentReopened:
			if s.byID[rec.ID] == nil {
				continue
			}
			s.reopened(rec.ID)
			rec = quell.Incident{ID: rec.ID, Status: quell.IncidentOpen}
		default:
			continue
		}
		if err := s.f.Append(&rec); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if err := s.f.Flush(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if s.bytes > s.maxBytes || s.seenN > int(s.maxBytes/4/seenSize) {
		s.trim(time.Now())
	}
	// What was trimmed stays in the file until it outgrows twice the bound:
	// Open trims again what it reads.
	if s.f.Written() > 2*s.maxBytes {
		return s.rewrite()
	}
	return nil
}

// Close writes what is buffered.
func (s *Store) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// Incident returns the resolved incident with id.
func (s *Store) Incident(id string) (quell.Incident, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byID[id]
	if e == nil || time.Since(e.inc.ResolvedAt) > s.keep {
		return quell.Incident{}, false
	}
	return e.inc, true
}

// Incidents answers q over the history (resolved incidents only).
func (s *Store) Incidents(q correlate.Query) []quell.Incident {
	if q.Status != "" && q.Status != quell.IncidentResolved {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []quell.Incident
	for _, e := range s.byID {
		if c := correlate.CursorOf(e.inc); q.After.Before(c) && time.Since(e.inc.ResolvedAt) <= s.keep && q.Holds(e.inc.Alerts) {
			out = append(out, e.inc)
		}
	}
	sortNewestFirst(out)
	return out[:q.Taken(len(out), func(i int) int { return len(out[i].Alerts) })]
}

func sortNewestFirst(incs []quell.Incident) {
	slices.SortFunc(incs, func(a, b quell.Incident) int {
		ca, cb := correlate.CursorOf(a), correlate.CursorOf(b)
		switch {
		case ca.Before(cb):
			return -1
		case cb.Before(ca):
			return 1
		}
		return 0
	})
}

// Source answers incident queries (the correlator, for the live ones).
type Source interface {
	Incidents(q correlate.Query) []quell.Incident
	Incident(id string) (quell.Incident, bool)
}

// Reader serves the live incidents and, besides them, the history: a
// resolved incident the correlator still holds is served as it has it.
type Reader struct {
	Live    Source
	History *Store
}

func (r Reader) Incident(id string) (quell.Incident, bool) {
	inc, ok := r.Live.Incident(id)
	if !ok {
		inc, ok = r.History.Incident(id)
	}
	if ok {
		r.History.recurrence(&inc)
	}
	return inc, ok
}

// Incidents merges both answers to q in its order: each is the top of its
// source, so the top of the merge is taken from them.
func (r Reader) Incidents(q correlate.Query) []quell.Incident {
	out := r.Live.Incidents(q)
	live := make(map[string]bool, len(out))
	for i := range out {
		live[out[i].ID] = true
	}
	for _, inc := range r.History.Incidents(q) {
		if !live[inc.ID] {
			out = append(out, inc)
		}
	}
	sortNewestFirst(out)
	out = out[:q.Taken(len(out), func(i int) int { return len(out[i].Alerts) })]
	for i := range out {
		r.History.recurrence(&out[i])
	}
	return out
}

// recurrence notes on inc the earlier incidents of its kind that resolved
// in the RecurFor before now.
func (s *Store) recurrence(inc *quell.Incident) {
	sig := correlate.Signature(inc)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var rec quell.Recurrence
	for id, at := range s.seen[sig] {
		if id == inc.ID || !at.Before(inc.CreatedAt) || time.Since(at) > RecurFor {
			continue
		}
		rec.Seen++
		if at.After(rec.LastResolvedAt) || at.Equal(rec.LastResolvedAt) && id > rec.Last {
			rec.Last, rec.LastResolvedAt = id, at
		}
	}
	if rec.Seen > 0 {
		rec.Signature = sig
		if e := s.byID[rec.Last]; e != nil { // still kept whole
			rec.LastResolvedBy = e.inc.ResolvedBy
		}
		inc.Recurrence = &rec
	}
}
