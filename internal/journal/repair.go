package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// scanned is what a scan of a segment's bytes found.
type scanned struct {
	good    int // bytes of intact records from the start, the header included
	records int // intact records in b[:good]
	bad     int // where the first damaged byte is (good, when b[good:] is not empty)
	after   int // intact records found after the damage
}

// damaged reports intact records after damage: corruption, not a torn tail.
func (s scanned) damaged() bool { return s.after > 0 }

// scan reads b, a whole segment with its header, record by record.
func scan(b []byte) scanned {
	s := scanned{good: len(magic)}
	for s.good < len(b) {
		n, ok := frameAt(b[s.good:])
		if !ok {
			break
		}
		s.good += n
		s.records++
	}
	s.bad = s.good
	for off := s.good + 1; off < len(b); {
		if n, ok := frameAt(b[off:]); ok {
			s.after++
			off += n
			continue
		}
		off++
	}
	return s
}

// intact calls fn with the position and bytes of every intact record of the
// segment at start, stepping over damaged bytes; it returns how many bytes
// it stepped over.
func intact(start int64, b []byte, fn func(pos int64, rec []byte)) int {
	skipped := 0
	for off := len(magic); off < len(b); {
		if n, ok := frameAt(b[off:]); ok {
			fn(start+int64(off), b[off:off+n])
			off += n
			continue
		}
		off++
		skipped++
	}
	return skipped
}

// Report is what Check or Salvage found in a journal.
type Report struct {
	Segments int
	Records  int    // intact records at or after the saved state's position
	Covered  int    // intact records before it, which the saved state holds
	Damaged  int    // bytes in no intact record
	Torn     bool   // the damage is only a torn tail, which a start cuts off
	Moved    string // Salvage: the folder the original segments were moved to
}

func (r Report) String() string {
	s := fmt.Sprintf("%d segments: %d records to handle again, %d covered by the saved state, %d damaged bytes", r.Segments, r.Records, r.Covered, r.Damaged)
	switch {
	case r.Damaged == 0:
		s += ": intact"
	case r.Torn:
		s += " (a torn tail only, which the next start cuts off)"
	default:
		s += ": damaged; 'quell journal salvage' keeps every intact record"
	}
	if r.Moved != "" {
		s += "; the original segments are in " + r.Moved
	}
	return s
}

// Check reads dir's journal without changing it. from is the position the
// saved state covers (0 without one).
func Check(dir string, from int64) (Report, error) {
	var r Report
	err := each(dir, func(start int64, b []byte, last bool) {
		r.Segments++
		skipped := intact(start, b, func(pos int64, _ []byte) {
			if pos < from {
				r.Covered++
			} else {
				r.Records++
			}
		})
		r.Damaged += skipped
		if skipped > 0 {
			r.Torn = last && !scan(b).damaged() && r.Damaged == skipped
		}
	})
	return r, err
}

// Salvage rewrites dir's journal as one segment of every intact record from
// position from on (where the saved state left off), so that quell can
// start; the original segments are moved, never deleted, to a folder beside.
func Salvage(dir string, from int64) (Report, error) {
	var r Report
	hdr := int64(len(magic))
	start := max(from-hdr, 0)
	out := []byte(magic)
	err := each(dir, func(segStart int64, b []byte, _ bool) {
		r.Segments++
		r.Damaged += intact(segStart, b, func(pos int64, rec []byte) {
			if pos < from {
				r.Covered++
				return
			}
			out = append(out, rec...)
			r.Records++
		})
	})
	if err != nil {
		return r, err
	}
	segs, err := segments(dir)
	if err != nil {
		return r, err
	}
	r.Moved = filepath.Join(dir, "damaged-journal-"+strconv.FormatInt(time.Now().Unix(), 10))
	if err := os.Mkdir(r.Moved, 0o755); err != nil {
		return r, fmt.Errorf("journal salvage: %w", err)
	}
	for _, s := range segs {
		if err := os.Rename(segmentPath(dir, s), filepath.Join(r.Moved, filepath.Base(segmentPath(dir, s)))); err != nil {
			return r, fmt.Errorf("journal salvage: %w", err)
		}
	}
	path := segmentPath(dir, start)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return r, fmt.Errorf("journal salvage: %w", err)
	}
	_, err = f.Write(out)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return r, fmt.Errorf("journal salvage: writing %s: %w (the original segments are in %s)", path, err, r.Moved)
	}
	return r, nil
}

// each reads every segment of dir, oldest first.
func each(dir string, fn func(start int64, b []byte, last bool)) error {
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	for i, s := range segs {
		b, err := os.ReadFile(segmentPath(dir, s))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		fn(s, b, i == len(segs)-1)
	}
	return nil
}
