// Package journal keeps the alerts the embedded bus accepted on disk, so
// that a crash loses none of them.
package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
)

// Journal keeps every batch the embedded bus accepts on disk until a saved
// correlator state covers it, so that a crash (kill -9, out of memory) loses
// nothing that was answered 2xx: at start, what the last state does not
// cover is handled again. Each batch is one write call before the bus
// answers, so it survives the process; it is not synced per request, so a
// power loss can take the last moments.
//
// Positions are logical byte offsets that only grow. The journal is a row of
// segment files, each named for the position of its first batch; Cut starts
// a new segment and deletes the ones a saved state covers, so it never
// copies. A batch is a 4-byte length and its alerts as records
// (ingest.AppendAlertRecord), each with a 4-byte length.
type Journal struct {
	mu   sync.Mutex
	dir  string
	segs []int64 // start positions of the segment files, oldest first
	f    *os.File
	end  int64 // position after the last batch
}

const segmentPrefix = "journal-"

// Open opens dir's journal, creating it if missing; a torn last batch (a
// crash mid-write) is cut off.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir}
	names, err := filepath.Glob(filepath.Join(dir, segmentPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	for _, n := range names {
		start, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(n), segmentPrefix), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal: %s is not a journal segment (move it away)", n)
		}
		j.segs = append(j.segs, start)
	}
	slices.Sort(j.segs)
	if len(j.segs) == 0 {
		return j, j.roll()
	}
	last := j.segs[len(j.segs)-1]
	f, err := os.OpenFile(j.path(last), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	good, err := scanBatches(bufio.NewReader(f), nil)
	if err == nil {
		err = f.Truncate(good)
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", j.path(last), err)
	}
	j.f, j.end = f, last+good
	return j, nil
}

func (j *Journal) path(start int64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%s%020d", segmentPrefix, start))
}

// roll starts a new segment at the current end.
func (j *Journal) roll() error {
	f, err := os.OpenFile(j.path(j.end), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	if len(j.segs) == 0 || j.segs[len(j.segs)-1] != j.end {
		j.segs = append(j.segs, j.end)
	}
	j.f = f
	return nil
}

// Append writes one batch and returns the position after it.
func (j *Journal) Append(alerts []quell.Alert) (int64, error) {
	batch := make([]byte, 4, 4+len(alerts)*1024)
	for i := range alerts {
		at := len(batch)
		batch = ingest.AppendAlertRecord(append(batch, 0, 0, 0, 0), &alerts[i])
		binary.BigEndian.PutUint32(batch[at:], uint32(len(batch)-at-4))
	}
	binary.BigEndian.PutUint32(batch, uint32(len(batch)-4))
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(batch); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	j.end += int64(len(batch))
	return j.end, nil
}

// Replay hands every batch from position from on to fn, in order. from is a
// position Append returned (or 0).
func (j *Journal) Replay(from int64, fn func([]quell.Alert) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, start := range j.segs {
		end := j.end
		if i+1 < len(j.segs) {
			end = j.segs[i+1]
		}
		if end <= from {
			continue
		}
		f, err := os.Open(j.path(start))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		skip := max(from-start, 0)
		if _, err = f.Seek(skip, io.SeekStart); err == nil {
			_, err = scanBatches(bufio.NewReader(io.LimitReader(f, end-start-skip)), fn)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.path(start), err)
		}
	}
	return nil
}

// Cut drops the batches before position pos, which a saved state covers:
// it starts a new segment and deletes the segments that end by pos.
func (j *Journal) Cut(pos int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.roll(); err != nil {
		return err
	}
	keep := j.segs[:0]
	for i, start := range j.segs {
		if i+1 < len(j.segs) && j.segs[i+1] <= pos {
			if err := os.Remove(j.path(start)); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			continue
		}
		keep = append(keep, start)
	}
	j.segs = keep
	return nil
}

// End is the position after the last batch.
func (j *Journal) End() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.end
}

// Size is how many bytes of batches the journal holds.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.end - j.segs[0]
}

// Close closes the current segment.
func (j *Journal) Close() error { return j.f.Close() }

// scanBatches reads whole batches, calling fn (when not nil) with each, and
// returns the length of the whole batches read; a torn batch at the end is
// not an error.
func scanBatches(r *bufio.Reader, fn func([]quell.Alert) error) (int64, error) {
	var good int64
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return good, nil
		}
		batch := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, batch); err != nil {
			return good, nil
		}
		if fn != nil {
			alerts, err := decodeBatch(batch)
			if err != nil {
				return good, fmt.Errorf("batch at offset %d: %w", good, err)
			}
			if err := fn(alerts); err != nil {
				return good, err
			}
		}
		good += 4 + int64(len(batch))
	}
}

func decodeBatch(b []byte) ([]quell.Alert, error) {
	var out []quell.Alert
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if 4+n > len(b) {
			return nil, errors.New("a record runs past its batch")
		}
		a, err := ingest.ParseAlertRecord(b[4 : 4+n])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		b = b[4+n:]
	}
	return out, nil
}
