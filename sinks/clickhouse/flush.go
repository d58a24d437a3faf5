package clickhouse

import (
	"time"

	"github.com/quellhq/quell"
)

// run is the sink's one inserting goroutine: it waits for a full batch, an
// old enough one, or Close, and stores the front of the queue.
func (s *Sink) run() {
	defer close(s.done)
	for {
		ds, rs, cs, ok := s.next()
		if !ok {
			return
		}
		if !s.store(ds, rs, cs) {
			return // Close ran out of time; it dead-letters what is queued
		}
		s.mu.Lock()
		s.dequeue(len(ds), len(rs), len(cs))
		s.mu.Unlock()
	}
}

// next waits until a batch is due and returns it, without dequeuing; ok is
// false once the sink is closing with nothing queued.
func (s *Sink) next() (ds []quell.Decision, rs []repeat, cs []quell.IncidentChange, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		held := s.held()
		age := time.Since(s.oldest)
		if held > 0 && (held >= s.cfg.BatchSize || age >= s.cfg.BatchAge || s.closing) {
			break
		}
		if s.closing {
			return nil, nil, nil, false
		}
		wait := s.changed
		s.mu.Unlock()
		var due <-chan time.Time
		var t *time.Timer
		if held > 0 {
			t = time.NewTimer(s.cfg.BatchAge - age)
			due = t.C
		}
		select {
		case <-wait:
		case <-due:
		case <-s.ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			return nil, nil, nil, false
		}
	}
	ds = s.decisions[:s.batchEnd(len(s.decisions), func(i int) int { return s.decisions[i].Size() })]
	rs = s.repeats[:s.batchEnd(len(s.repeats), func(int) int { return repeatRowBytes })]
	cs = s.changes[:s.batchEnd(len(s.changes), func(i int) int { return s.changes[i].Size() })]
	if len(ds) < len(s.decisions) || len(rs) < len(s.repeats) || len(cs) < len(s.changes) {
		s.oldest = time.Now().Add(-s.cfg.BatchAge) // the rest is due too
	} else {
		s.oldest = time.Now()
	}
	return ds, rs, cs, true
}

// batchEnd is how many of n queued items (of size(i) bytes) the next
// insert takes: at most batch_size, and under a byte bound at most a
// quarter of it, since the decisions, repeats and changes of one batch are
// encoded into buffers of their own while the queue holds them too.
func (s *Sink) batchEnd(n int, size func(i int) int) int {
	n = min(n, s.cfg.BatchSize)
	if s.cfg.MaxBufferedBytes <= 0 {
		return n
	}
	var bytes int64
	for i := range n {
		if bytes += int64(size(i)); i > 0 && bytes > s.cfg.MaxBufferedBytes/4 {
			return i
		}
	}
	return n
}

// store inserts one batch, retrying transient failures until they pass or
// Close gives up (false). Refused parts go to the dead letters.
func (s *Sink) store(ds []quell.Decision, rs []repeat, cs []quell.IncidentChange) bool {
	for attempt := 1; ; attempt++ {
		if len(ds) > 0 && settled(s, "decisions", s.w.WriteDecisions(s.ctx, ds), ds) {
			ds = nil
		}
		if len(rs) > 0 && settled(s, "repeats", s.w.write(s.ctx, repeatInsert(rs)), rs) {
			rs = nil
		}
		if len(ds) == 0 && len(cs) > 0 {
			err := s.w.write(s.ctx, incidentInserts(cs, s.members)...)
			if err == nil {
				s.members.stored(cs)
			}
			if settled(s, "incident_changes", err, cs) {
				cs = nil
			}
		}
		if len(ds) == 0 && len(rs) == 0 && len(cs) == 0 {
			return true
		}
		if s.ctx.Err() != nil {
			return false
		}
		s.log.Error("clickhouse unreachable; holding the batch and retrying (Write blocks once max_buffered is reached)",
			"decisions", len(ds), "repeats", len(rs), "incident_changes", len(cs), "attempt", attempt)
		if err := s.w.backoff.wait(s.ctx, min(attempt, 8)); err != nil {
			return false
		}
	}
}
