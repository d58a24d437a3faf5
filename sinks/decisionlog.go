package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/quellhq/quell"
)

// DecisionLog writes the decision log: one JSON decision record a line.
type DecisionLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	line []byte // reused for each record
	c    io.Closer
	path string              // the file, when the log is one (OpenDecisionLog)
	size int64               // bytes in the file
	skip map[uint64]struct{} // decisions the file holds past a Resume mark
}

// NewDecisionLog writes to w; Close closes c when not nil.
func NewDecisionLog(w io.Writer, c io.Closer) *DecisionLog {
	d := &DecisionLog{c: c}
	d.w = bufio.NewWriterSize(countingWriter{w, &d.size}, 1<<16)
	return d
}

// OpenDecisionLog appends to the file at path. A last line a crash left
// half-written (it is no record) is cut off, so the next record starts on
// a line of its own.
func OpenDecisionLog(path string) (*DecisionLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("decision log: %w", err)
	}
	size, err := completeLines(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decision log %s: %w", path, err)
	}
	d := NewDecisionLog(f, f)
	d.path, d.size = path, size
	return d, nil
}

// completeLines cuts f after its last newline and returns its new size.
func completeLines(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	var tail [64 << 10]byte
	for end := size; end > 0; {
		n := min(end, int64(len(tail)))
		if _, err := f.ReadAt(tail[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(tail[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			if end == size {
				return size, nil
			}
			return end, f.Truncate(end)
		}
		end -= n
	}
	return 0, f.Truncate(0)
}

func (d *DecisionLog) Name() string { return "decision log" }

// Mark is how many bytes the file holds.
func (d *DecisionLog) Mark() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// Resume reads the records written after mark, and skips them when they
// are written again.
func (d *DecisionLog) Resume(mark int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path == "" || mark >= d.size {
		return nil
	}
	f, err := os.Open(d.path)
	if err != nil {
		return fmt.Errorf("decision log: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(io.NewSectionReader(f, mark, d.size-mark))
	d.skip = map[uint64]struct{}{}
	for dec.More() {
		var rec quell.Decision
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("decision log %s: reading what was written after the saved state: %w", d.path, err)
		}
		d.skip[rec.ID()] = struct{}{}
	}
	return nil
}

// Write appends the batch's decisions and flushes them, so the file is
// complete up to every acknowledged batch.
func (d *DecisionLog) Write(_ context.Context, b Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range b.Decisions {
		if d.skip != nil {
			id := b.Decisions[i].ID()
			if _, ok := d.skip[id]; ok {
				if delete(d.skip, id); len(d.skip) == 0 {
					d.skip = nil
				}
				continue
			}
		}
		rec := b.Decisions[i] // a copy: other sinks read the batch too
		rec.Alert.Raw = nil   // the journal and ClickHouse keep the payload as sent; the log says what was decided
		d.line = append(rec.AppendJSON(d.line[:0]), '\n')
		d.w.Write(d.line) // a write error stays in d.w and Flush returns it
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("decision log: %w", err)
	}
	return nil
}

func (d *DecisionLog) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.w.Flush()
	if d.c != nil {
		if cerr := d.c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
