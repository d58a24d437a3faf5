package journal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Sync says when the journal asks the disk to make what it wrote durable
// (fsync). Every setting keeps acknowledged alerts through a crash of the
// process; they differ in what a crash of the machine (power loss, kernel
// panic) can take.
type Sync string

const (
	// SyncBatch syncs before an alert is acknowledged, one fsync shared by
	// every request that arrived meanwhile (group commit): a machine crash
	// loses no acknowledged alert.
	SyncBatch Sync = "batch"
	// SyncInterval syncs every interval: a machine crash can lose the
	// alerts acknowledged in the last interval.
	SyncInterval Sync = "interval"
	// SyncNone leaves syncing to the operating system (Linux writes dirty
	// pages back within about 30 s): a machine crash can lose that much.
	SyncNone Sync = "none"
)

// Validate names a wrong setting.
func (s Sync) Validate(interval time.Duration) error {
	switch s {
	case SyncBatch, SyncNone:
		return nil
	case SyncInterval:
		if interval <= 0 {
			return fmt.Errorf("journal.sync_interval %s: must be positive with journal.sync interval", interval)
		}
		return nil
	}
	return fmt.Errorf("journal.sync %q: want batch (fsync before each acknowledgement, shared), interval (fsync every journal.sync_interval) or none", s)
}

// syncer makes the journal durable as its mode says.
type syncer struct {
	mode     Sync
	interval time.Duration
	file     sync.Mutex    // held for each fsync; Cut holds it while it rolls
	mu       sync.Mutex    // synced and flight
	synced   int64         // position up to which the journal is synced
	flight   chan struct{} // closed when the fsync in flight ends; nil: none in flight
	done     chan struct{}
	stopped  sync.WaitGroup
}

func (s *syncer) start(j *Journal, mode Sync, interval time.Duration) {
	s.mode, s.interval, s.synced, s.done = mode, interval, j.end, make(chan struct{})
	if mode != SyncInterval {
		return
	}
	s.stopped.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				j.sync(j.End())
			}
		}
	})
}

func (s *syncer) stop() {
	close(s.done)
	s.stopped.Wait()
}

// Sync returns once the records up to pos are durable, with SyncBatch;
// with the other settings at once. Requests that wait together share one
// fsync.
func (j *Journal) Sync(pos int64) error {
	if j.syncs.mode != SyncBatch {
		return nil
	}
	return j.sync(pos)
}

func (j *Journal) sync(pos int64) error {
	s := &j.syncs
	s.mu.Lock()
	for s.synced < pos && s.flight != nil {
		// Every request waiting on the fsync in flight wakes when it ends,
		// together: queued on one lock instead, they woke one after another,
		// each after the last was scheduled, and under load that chain took
		// longer than the fsync.
		wait := s.flight
		s.mu.Unlock()
		<-wait
		s.mu.Lock()
	}
	if s.synced >= pos {
		s.mu.Unlock()
		return nil // a sync that started after pos was written covered it
	}
	done := make(chan struct{})
	s.flight = done
	s.mu.Unlock()
	end, err := j.fsync()
	s.mu.Lock()
	if err == nil {
		s.synced = max(s.synced, end)
	}
	s.flight = nil
	close(done)
	s.mu.Unlock()
	return err
}

// fsync makes the current segment durable and returns the position that
// covers.
func (j *Journal) fsync() (int64, error) {
	j.syncs.file.Lock()
	defer j.syncs.file.Unlock()
	j.mu.Lock()
	f, end := j.f, j.end
	j.mu.Unlock()
	// A roll may close f meanwhile; it synced f first, which covers end.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		j.mu.Lock()
		defer j.mu.Unlock()
		return 0, j.failed(fmt.Errorf("journal: fsync: %w", err))
	}
	return end, nil
}
