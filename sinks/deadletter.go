package sinks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DeadLetters keeps what a sink could not deliver, one JSON record a line,
// so nothing accepted disappears: an operator can read it and send it again.
type DeadLetters struct {
	mu   sync.Mutex
	path string
}

// DeadLetter is one undeliverable item with the reason.
type DeadLetter struct {
	Sink   string          `json:"sink"`
	Reason string          `json:"reason"`
	At     time.Time       `json:"at"`
	Item   json.RawMessage `json:"item"`
}

// NewDeadLetters appends to dir/deadletter.jsonl; an empty dir uses the
// working directory.
func NewDeadLetters(dir string) *DeadLetters {
	return &DeadLetters{path: filepath.Join(dir, "deadletter.jsonl")}
}

// Path is where dead letters go.
func (d *DeadLetters) Path() string { return d.path }

// Add writes one dead letter and syncs it to disk.
func (d *DeadLetters) Add(sink, reason string, item any) error {
	raw, err := json.Marshal(item)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	line, err := json.Marshal(DeadLetter{Sink: sink, Reason: reason, At: time.Now().UTC(), Item: raw})
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	return f.Close()
}

// List reads what all sinks (ITSM and webhooks) gave up on,
// oldest first, each with its sink, reason and the change itself; no file
// means none. A torn last line (a crash mid-write) is left out.
func (dead *DeadLetters) List() ([]DeadLetter, error) {
	f, err := os.Open(dead.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer f.Close()
	var out []DeadLetter
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil // what follows the last newline is a write that did not finish
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters %s: %w", dead.Path(), err)
		}
		var dl DeadLetter
		if err := json.Unmarshal(line, &dl); err != nil {
			return nil, fmt.Errorf("dead letters %s line %d: %w", dead.Path(), n, err)
		}
		out = append(out, dl)
	}
}
