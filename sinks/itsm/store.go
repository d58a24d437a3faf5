package itsm

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/atomicfile"
)

// StoreFile is the store's file name in the data directory.
const StoreFile = "itsm-tickets.json"

// forgetAfter is how long a resolved ticket is remembered: long past any
// reopen or redelivery, short enough to keep the file small.
const forgetAfter = 30 * 24 * time.Hour

// Ticket is the ITSM's identity of an incident's ticket.
type Ticket struct {
	// ID addresses the ticket in the ITSM's API: a sys_id, an issue key, a dedup_key.
	ID string `json:"id"`
	// Number is what people call it (INC0010002, OPS-12), when it differs.
	Number string `json:"number,omitempty"`
}

// Record is what the store knows of one sink's ticket for one incident.
type Record struct {
	Sink     string `json:"sink"`
	Incident string `json:"incident"`
	Ticket   Ticket `json:"ticket"`
	// Seq is the last change of the incident fully delivered to the ticket.
	Seq      uint64         `json:"seq"`
	Resolved bool           `json:"resolved"`
	Acked    bool           `json:"acked,omitempty"` // the ticket heard the incident was acknowledged
	Severity quell.Severity `json:"severity"`
	// Alerts are the alerts (fingerprint: status) the ticket was told of.
	Alerts map[string]quell.Status `json:"alerts"`
	// Pending is the change being delivered and how many of its steps
	// succeeded, so a retry or restart resumes after them.
	Pending *Pending  `json:"pending,omitempty"`
	Updated time.Time `json:"updated"`
}

// Pending is a change partly delivered.
type Pending struct {
	Seq    uint64 `json:"seq"`
	Action action `json:"action"`
	Steps  int    `json:"steps"`
}

// Store keeps the records of all ITSM sinks in one JSON file, rewritten
// atomically (temporary file, fsync, rename) on every change.
type Store struct {
	mu   sync.Mutex
	path string
	recs map[string]Record
	now  func() time.Time
}

type storeFile struct {
	Records []Record `json:"records"`
}

// OpenStore reads dir/itsm-tickets.json, or starts empty when there is none.
func OpenStore(dir string) (*Store, error) {
	s := &Store{path: filepath.Join(dir, StoreFile), recs: map[string]Record{}, now: time.Now}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("itsm ticket store: %w", err)
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("itsm ticket store %s is corrupt (%w): restore it from a backup; deleting it makes quell open new tickets for open incidents", s.path, err)
	}
	for _, r := range f.Records {
		s.recs[key(r.Sink, r.Incident)] = r
	}
	return s, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

func key(sink, incident string) string { return sink + "\x00" + incident }

func (s *Store) get(sink, incident string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key(sink, incident)]
	return r, ok
}

// Tickets lists the tickets of one incident, one per sink that opened one.
func (s *Store) Tickets(incident string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.recs {
		if r.Incident == incident {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Sink, b.Sink) })
	return out
}

// records are all the records, in no order.
func (s *Store) records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.recs))
}

// put stores r and writes the file before it returns.
func (s *Store) put(r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r.Updated = now
	s.recs[key(r.Sink, r.Incident)] = r
	maps.DeleteFunc(s.recs, func(_ string, r Record) bool { return r.Resolved && now.Sub(r.Updated) > forgetAfter })
	f := storeFile{Records: slices.SortedFunc(maps.Values(s.recs), func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Sink, b.Sink), cmp.Compare(a.Incident, b.Incident))
	})}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("itsm ticket store: %w", err)
	}
	if err := atomicfile.Write(s.path, b); err != nil {
		return fmt.Errorf("itsm ticket store: %w", err)
	}
	return nil
}
