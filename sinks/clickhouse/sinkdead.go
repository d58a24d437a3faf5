package clickhouse

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/quellhq/quell"
)

// settled tells whether a write of items is done with: stored, or refused
// for good and dead-lettered. A transient error, or a dead-letter file that
// cannot be written, leaves it to retry.
func settled[T any](s *Sink, kind string, err error, items []T) bool {
	if err == nil {
		return true
	}
	if !IsPermanent(err) {
		return false
	}
	reason := err.Error()
	if ferr := s.dead.Add(s.Name()+"."+kind, reason, items); ferr != nil {
		s.log.Error("clickhouse refused a batch and the dead-letter file cannot take it; retrying both",
			"kind", kind, "err", err, "dead_letter_err", ferr)
		return false
	}
	s.m.deadLettered.WithLabelValues(kind).Add(float64(len(items)))
	s.log.Error("clickhouse refused a batch for good; it is in the dead-letter file", "kind", kind, "path", s.dead.Path(), "err", err)
	deadLetterTable(s, kind, reason, items)
	return true
}

// deadLetterTable also records refused items in dead_letters, one row
// each, so they can be found by query. The file already holds them, so a
// failure here is only logged.
func deadLetterTable[T any](s *Sink, kind, reason string, items []T) {
	now := time.Now()
	ls := make([]DeadLetter, 0, len(items))
	for i := range items {
		payload, err := json.Marshal(items[i])
		if err != nil {
			s.log.Error("encoding a dead letter for the dead_letters table", "err", err)
			continue
		}
		ls = append(ls, DeadLetter{Stage: "sink.clickhouse." + kind, Reason: reason, At: now, Payload: payload})
	}
	if err := s.w.WriteDeadLetters(s.ctx, ls); err != nil {
		s.log.Error("writing the dead_letters table failed; the dead-letter file has the items", "path", s.dead.Path(), "err", err)
	}
}

// deadLetterFile keeps what Close could not store.
func (s *Sink) deadLetterFile(ds []quell.Decision, rs []repeat, cs []quell.IncidentChange, reason string) error {
	if len(ds) > 0 {
		if err := s.dead.Add(s.Name()+".decisions", reason, ds); err != nil {
			return fmt.Errorf("dead-lettering %d decisions: %w", len(ds), err)
		}
	}
	if len(rs) > 0 {
		if err := s.dead.Add(s.Name()+".repeats", reason, rs); err != nil {
			return fmt.Errorf("dead-lettering %d repeats: %w", len(rs), err)
		}
	}
	if len(cs) > 0 {
		if err := s.dead.Add(s.Name()+".incident_changes", reason, cs); err != nil {
			return fmt.Errorf("dead-lettering %d incident changes: %w", len(cs), err)
		}
	}
	return nil
}
