// Package silence keeps the silences that stop matching alerts from
// notifying anyone (opening tickets): those of the configuration file,
// read-only, and those created through Alertmanager's silences API, kept
// in the data dir across restarts, as Alertmanager keeps its own.
package silence

import (
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// Silence is one silence, in Alertmanager's terms. A configured one may
// also have a weekly window.
type Silence struct {
	ID        string
	Matchers  labels.Matchers
	StartsAt  time.Time // zero: since always
	EndsAt    time.Time // zero: for ever
	UpdatedAt time.Time
	CreatedBy string
	Comment   string
	// Configured silences come from the configuration file: the API lists
	// them but cannot change them.
	Configured bool
	weekly     *weekly
}

// States, as Alertmanager names them.
const (
	Pending = "pending"
	Active  = "active"
	Expired = "expired"
)

// State is the silence's state at t.
func (s *Silence) State(t time.Time) string {
	switch {
	case !s.EndsAt.IsZero() && !t.Before(s.EndsAt):
		return Expired
	case t.Before(s.StartsAt):
		return Pending
	}
	return Active
}

// ActiveAt reports whether s silences anything at t: in its time range and,
// with a weekly window, inside it.
func (s *Silence) ActiveAt(t time.Time) bool {
	return s.State(t) == Active && (s.weekly == nil || s.weekly.active(t))
}

// Matches reports whether every matcher matches ls (a missing label is
// empty, as in Alertmanager).
func (s *Silence) Matches(ls map[string]string) bool {
	for _, m := range s.Matchers {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}
