package silence

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/quellhq/quell/atomicfile"
)

// retention is how long an expired silence stays listed, as Alertmanager's
// default --data.retention.
const retention = 120 * time.Hour

// ErrNotFound: no silence has the id.
var ErrNotFound = errors.New("no such silence")

// Store holds the silences; safe for concurrent use. Silences created
// through the API are written to its file (when it has one) before a
// change returns.
type Store struct {
	mu   sync.RWMutex
	cfg  []*Silence
	api  []*Silence // in creation order
	path string
}

// NewStore compiles the configured silences and loads the ones saved at
// path ("" keeps them in memory only).
func NewStore(cfgs []Config, path string) (*Store, error) {
	st := &Store{path: path}
	if err := st.SetConfigured(cfgs); err != nil {
		return nil, err
	}
	if path == "" {
		return st, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	var saved []savedSilence
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("silences in %s: %w (move the file away to start without them)", path, err)
	}
	for _, v := range saved {
		s, err := v.silence()
		if err != nil {
			return nil, fmt.Errorf("silences in %s: silence %s: %w", path, v.ID, err)
		}
		st.api = append(st.api, s)
	}
	return st, nil
}

// SetConfigured replaces the configured silences (a reload), all or none.
func (st *Store) SetConfigured(cfgs []Config) error {
	var out []*Silence
	for i, c := range cfgs {
		s, err := c.compile()
		if err != nil {
			return fmt.Errorf("itsm.silences[%d]: %w", i, err)
		}
		s.ID, s.Configured = fmt.Sprintf("config-%d", i), true
		out = append(out, s)
	}
	st.mu.Lock()
	st.cfg = out
	st.mu.Unlock()
	return nil
}

// Validate checks a configured silence as NewStore compiles it.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// SilencedBy lists the ids of the silences active at t that match ls.
func (st *Store) SilencedBy(ls map[string]string, t time.Time) []string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var ids []string
	for _, list := range [2][]*Silence{st.cfg, st.api} {
		for _, s := range list {
			if s.ActiveAt(t) && s.Matches(ls) {
				ids = append(ids, s.ID)
			}
		}
	}
	return ids
}

// List returns a copy of every silence, the configured ones first.
func (st *Store) List() []Silence {
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]Silence, 0, len(st.cfg)+len(st.api))
	for _, list := range [2][]*Silence{st.cfg, st.api} {
		for _, s := range list {
			out = append(out, *s)
		}
	}
	return out
}

// Get returns the silence with id.
func (st *Store) Get(id string) (Silence, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if s := st.find(id); s != nil {
		return *s, true
	}
	return Silence{}, false
}

func (st *Store) find(id string) *Silence {
	for _, list := range [2][]*Silence{st.cfg, st.api} {
		for _, s := range list {
			if s.ID == id {
				return s
			}
		}
	}
	return nil
}

// Set creates s (empty ID) or updates the silence with its ID, and returns
// the id. As in Alertmanager, an update that changes the matchers or the
// start of a silence already active expires it and creates a new one.
func (st *Store) Set(s Silence, now time.Time) (string, error) {
	if err := check(&s, now); err != nil {
		return "", err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s.UpdatedAt = now
	if s.ID != "" {
		old := st.find(s.ID)
		switch {
		case old == nil:
			return "", ErrNotFound
		case old.Configured:
			return "", fmt.Errorf("silence %s comes from the configuration file (itsm.silences); change it there", s.ID)
		case old.State(now) == Expired:
			return "", fmt.Errorf("silence %s has expired; create a new one", s.ID)
		}
		if old.State(now) == Pending || (old.Matchers.String() == s.Matchers.String() && old.StartsAt.Equal(s.StartsAt)) {
			prev := *old
			*old = s
			if err := st.save(); err != nil {
				*old = prev
				return "", err
			}
			return s.ID, nil
		}
		prevEnd := old.EndsAt
		old.EndsAt, old.UpdatedAt = now, now
		id, err := st.add(s)
		if err != nil {
			old.EndsAt = prevEnd
		}
		return id, err
	}
	return st.add(s)
}

// add stores a new silence; st.mu is held.
func (st *Store) add(s Silence) (string, error) {
	s.ID = newID()
	st.api = append(st.api, &s)
	if err := st.save(); err != nil {
		st.api = st.api[:len(st.api)-1]
		return "", err
	}
	return s.ID, nil
}

// Expire ends the silence with id now.
func (st *Store) Expire(id string, now time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.find(id)
	switch {
	case s == nil:
		return ErrNotFound
	case s.Configured:
		return fmt.Errorf("silence %s comes from the configuration file (itsm.silences); remove it there", id)
	case s.State(now) == Expired:
		return fmt.Errorf("silence %s has already expired", id)
	}
	prev := *s
	s.EndsAt, s.UpdatedAt = now, now
	if s.StartsAt.After(now) {
		s.StartsAt = now
	}
	if err := st.save(); err != nil {
		*s = prev
		return err
	}
	return nil
}

// check refuses what Alertmanager refuses.
func check(s *Silence, now time.Time) error {
	switch {
	case len(s.Matchers) == 0:
		return errors.New("a silence needs at least one matcher")
	case s.EndsAt.IsZero() || !s.EndsAt.After(s.StartsAt):
		return errors.New("the silence must end after it starts")
	case !s.EndsAt.After(now):
		return errors.New("the silence's end is in the past")
	}
	for _, m := range s.Matchers {
		if !m.Matches("") {
			return nil
		}
	}
	return errors.New("at least one matcher must not match the empty string: a silence would match every alert")
}

// save writes the API's silences (dropping those expired for longer than
// the retention) to their file; st.mu is held.
func (st *Store) save() error {
	cut := time.Now().Add(-retention)
	st.api = slices.DeleteFunc(st.api, func(s *Silence) bool { return s.EndsAt.Before(cut) })
	if st.path == "" {
		return nil
	}
	saved := make([]savedSilence, len(st.api))
	for i, s := range st.api {
		saved[i] = savedSilence{ID: s.ID, Matchers: s.Matchers.String(), StartsAt: s.StartsAt, EndsAt: s.EndsAt,
			UpdatedAt: s.UpdatedAt, CreatedBy: s.CreatedBy, Comment: s.Comment}
	}
	b, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(st.path, b); err != nil {
		return fmt.Errorf("saving silences: %w", err)
	}
	return nil
}

// savedSilence is a silence in the file: matchers in Alertmanager's syntax.
type savedSilence struct {
	ID        string    `json:"id"`
	Matchers  string    `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

func (v savedSilence) silence() (*Silence, error) {
	ms, err := labels.ParseMatchers(v.Matchers)
	if err != nil {
		return nil, err
	}
	return &Silence{ID: v.ID, Matchers: ms, StartsAt: v.StartsAt, EndsAt: v.EndsAt, UpdatedAt: v.UpdatedAt,
		CreatedBy: v.CreatedBy, Comment: v.Comment}, nil
}

// newID is a random UUID (version 4), as Alertmanager's silence ids are.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
