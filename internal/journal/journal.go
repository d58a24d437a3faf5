// Package journal keeps what the embedded bus accepted on disk, so that a
// crash loses none of it and a restart decides it again the same way.
package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quellhq/quell/internal/bus"
)

// Journal keeps every entry the embedded bus accepts (alert batches and
// clock ticks) on disk until a saved correlator state covers it, so that a
// crash (kill -9, out of memory) loses nothing that was answered 2xx: at
// start, what the last state does not cover is handled again, in the same
// order and at the same times.
//
// Positions are logical byte offsets that only grow. The journal is a row of
// segment files, each named for the position of its first byte (a magic
// header, then framed records; see record.go); Cut deletes the segments a
// saved state covers, so it never copies.
//
// A write that fails part-way (a full disk) is cut off before anything else
// is written, so the file never holds torn bytes between acknowledged
// records; if it cannot be cut off, the journal refuses to write until it
// can. At Open a torn last record (a crash mid-write) is cut off and logged;
// a damaged record followed by intact ones stops the start instead, since
// cutting it would drop acknowledged alerts (see Salvage).
type Journal struct {
	mu    sync.Mutex
	dir   string
	segs  []int64 // start positions of the segment files, oldest first
	f     *os.File
	end   int64 // position after the last record
	torn  bool  // the last write failed and its bytes are not cut off yet
	err   error // why the last write failed; nil once a write as large succeeds, or there is room for one
	need  int   // the size of the write that failed
	syncs syncer
}

const (
	segmentPrefix = "journal-"
	// magic heads every segment: the format's version.
	magic = "QUELLJ1\n"
	// segmentMax rolls a new segment, so that Open's scan of the last one
	// and a Cut's deletions stay small whatever the checkpoint cadence.
	segmentMax = 64 << 20
)

// Open opens dir's journal, creating it if missing; a torn last record (a
// crash mid-write) is cut off and logged.
func Open(dir string, sync Sync, interval time.Duration, log *slog.Logger) (*Journal, error) {
	if err := sync.Validate(interval); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir}
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	j.segs = segs
	if len(segs) == 0 {
		if err := j.roll(); err != nil {
			return nil, err
		}
	} else if err := j.openLast(log); err != nil {
		return nil, err
	}
	j.syncs.start(j, sync, interval)
	return j, nil
}

// segments lists the start positions of dir's segment files, oldest first.
func segments(dir string) ([]int64, error) {
	names, err := filepath.Glob(filepath.Join(dir, segmentPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var segs []int64
	for _, n := range names {
		start, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(n), segmentPrefix), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal: %s is not a journal segment (move it out of the data dir)", n)
		}
		segs = append(segs, start)
	}
	slices.Sort(segs)
	return segs, nil
}

// openLast opens the last segment for appending, cutting off a torn tail.
func (j *Journal) openLast(log *slog.Logger) error {
	last := j.segs[len(j.segs)-1]
	path := j.path(last)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if len(b) < len(magic) && bytes.HasPrefix([]byte(magic), b) {
		b = nil // created, header not (wholly) written: an empty segment
	} else if !bytes.HasPrefix(b, []byte(magic)) {
		return fmt.Errorf("journal %s: not a journal segment of this quell version (no %q header); if an older quell wrote it, run that version once and stop it cleanly to empty its journal", path, strings.TrimSpace(magic))
	}
	good := len(magic)
	if b != nil {
		s := scan(b)
		if s.damaged() {
			return fmt.Errorf("journal %s: the record at byte %d is damaged and %d intact records follow it; quell will not start and cut acknowledged alerts: run 'quell journal salvage --data-dir %s' to keep every intact record, then start again", path, s.bad, s.after, j.dir)
		}
		good = s.good
		if cut := len(b) - good; cut > 0 {
			log.Warn("journal: cut off a torn last record (a crash or a full disk interrupted its write; it was never acknowledged)", "path", path, "bytes", cut)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if b == nil {
		_, err = f.WriteAt([]byte(magic), 0)
	}
	if err == nil {
		err = f.Truncate(int64(good))
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("journal %s: %w", path, err)
	}
	j.f, j.end = f, last+int64(good)
	return nil
}

func (j *Journal) path(start int64) string { return segmentPath(j.dir, start) }

func segmentPath(dir string, start int64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d", segmentPrefix, start))
}

// roll starts a new segment at the current end; j.mu is held (or j is not
// shared yet). The previous segment is synced first unless sync is none, so
// that a sync of the current segment covers everything before it.
func (j *Journal) roll() error {
	if j.f != nil && j.syncs.mode != SyncNone {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	f, err := os.OpenFile(j.path(j.end), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		os.Remove(j.path(j.end))
		return fmt.Errorf("journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.segs = append(j.segs, j.end)
	j.f = f
	j.end += int64(len(magic))
	return syncDir(j.dir)
}

// Encode makes e's record for Append.
func (j *Journal) Encode(e bus.Entry) *bus.Record {
	r := records.Get().(*bus.Record)
	r.B = appendRecord(r.B[:0], e)
	return r
}

// Append writes one record and returns the position after it. The entry is
// then safe from a crash of the process; Sync makes it safe from a crash of
// the machine, as the sync setting says.
func (j *Journal) Append(r *bus.Record) (int64, error) {
	defer func() {
		// Records are written and let go of: reusing their buffers spares
		// the collector what was most of the bytes ingest allocated.
		if cap(r.B) <= maxPooledRecord {
			records.Put(r)
		}
	}()
	rec := r.B
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.repair(); err != nil {
		return 0, err
	}
	if j.end-j.segs[len(j.segs)-1] > segmentMax {
		if err := j.roll(); err != nil {
			return 0, j.failed(err)
		}
	}
	if _, err := j.f.WriteAt(rec, j.end-j.segs[len(j.segs)-1]); err != nil {
		// Part of rec may be on disk: cut it off now, before anything else
		// is written after it.
		j.torn = true
		j.repair()
		j.need = len(rec)
		return 0, j.failed(fmt.Errorf("journal: %w", err))
	}
	j.end += int64(len(rec))
	if len(rec) >= j.need { // a small write (a tick) may fit where a batch did not
		j.err, j.need = nil, 0
	}
	return j.end, nil
}

// records holds Encode's records; one larger than maxPooledRecord (a rare
// huge request) is left to the collector.
var records = sync.Pool{New: func() any { return new(bus.Record) }}

const maxPooledRecord = 4 << 20

// repair cuts off the bytes of a failed write; j.mu is held. Truncating
// frees space, so it works on a full disk; until it has, nothing is written.
func (j *Journal) repair() error {
	if !j.torn {
		return nil
	}
	if err := j.f.Truncate(j.end - j.segs[len(j.segs)-1]); err != nil {
		return j.failed(fmt.Errorf("journal: cutting off a failed write: %w", err))
	}
	j.torn = false
	return nil
}

func (j *Journal) failed(err error) error {
	j.err = err
	return err
}

// Err is why the last write failed, or nil once a write as large succeeds
// or the disk has room for one again: ingest cannot accept alerts while it
// is not nil.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var st syscall.Statfs_t
	if j.err != nil && j.need > 0 && syscall.Statfs(j.dir, &st) == nil && uint64(st.Bavail)*uint64(st.Bsize) >= 2*uint64(j.need) {
		j.err, j.need = nil, 0
	}
	return j.err
}

// Replay hands every entry from position from on to fn, in order. from is a
// position Append returned (or 0).
func (j *Journal) Replay(from int64, fn func(bus.Entry) error) error {
	j.mu.Lock()
	segs, end := slices.Clone(j.segs), j.end
	j.mu.Unlock()
	for i, start := range segs {
		stop := end
		if i+1 < len(segs) {
			stop = segs[i+1]
		}
		if stop <= from {
			continue
		}
		path := j.path(start)
		b, err := readSegment(path, stop-start)
		if err != nil {
			return err
		}
		off := max(from-start, int64(len(magic)))
		for off < int64(len(b)) {
			n, ok := frameAt(b[off:])
			if !ok {
				return fmt.Errorf("journal %s: the record at byte %d is damaged: run 'quell journal salvage --data-dir %s' to keep every intact record, then start again", path, off, j.dir)
			}
			e, err := decodeBody(b[off+frameLen : off+int64(n)])
			if err != nil {
				return fmt.Errorf("journal %s: the record at byte %d: %w", path, off, err)
			}
			if err := fn(e); err != nil {
				return err
			}
			off += int64(n)
		}
	}
	return nil
}

// readSegment reads the first size bytes of a segment.
func readSegment(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return b, nil
}

// Cut drops the entries before position pos, which a saved state covers:
// it starts a new segment and deletes the segments that end by pos.
func (j *Journal) Cut(pos int64) error {
	drop, err := j.cut(pos)
	// Deleting segments of 64 MiB takes a while on some file systems (with
	// online discard, tens of milliseconds): it is done after appends and
	// syncs may go on. A segment left behind by a crash meanwhile is
	// skipped by Replay, which starts after it, and deleted by the next Cut.
	for _, path := range drop {
		if rerr := os.Remove(path); rerr != nil && err == nil {
			err = fmt.Errorf("journal: %w", rerr)
		}
	}
	return err
}

// cut is Cut under the locks: it returns the segments to delete.
func (j *Journal) cut(pos int64) ([]string, error) {
	j.syncs.file.Lock() // a group sync must not use a segment roll closes
	defer j.syncs.file.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.repair(); err != nil {
		return nil, err
	}
	if err := j.next(pos); err != nil {
		return nil, err
	}
	var drop []string
	keep := j.segs[:0]
	for i, start := range j.segs {
		if i+1 < len(j.segs) && j.segs[i+1] <= pos {
			drop = append(drop, j.path(start))
			continue
		}
		keep = append(keep, start)
	}
	j.segs = keep
	return drop, nil
}

// next gives Cut a current segment that starts at or after pos, or holds
// records after pos; j.mu is held. A wholly covered segment is renamed to
// start at its end and emptied, which needs no disk space, so that a full
// disk can always be cut.
func (j *Journal) next(pos int64) error {
	last := j.segs[len(j.segs)-1]
	hdr := int64(len(magic))
	switch {
	case j.end == last+hdr: // empty already
		return nil
	case pos < j.end:
		return j.roll()
	}
	start := j.end - hdr
	if err := os.Rename(j.path(last), j.path(start)); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.segs[len(j.segs)-1] = start
	if err := j.f.Truncate(hdr); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(j.dir)
}

// End is the position after the last record.
func (j *Journal) End() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.end
}

// Size is how many bytes the journal holds.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.end - j.segs[0]
}

// Close syncs (unless sync is none) and closes the current segment.
func (j *Journal) Close() error {
	j.syncs.stop()
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if j.syncs.mode != SyncNone {
		err = j.f.Sync()
	}
	return errors.Join(err, j.f.Close())
}

// syncDir makes a file's creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}
