package itsm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/quellhq/quell/sinks"
)

// ListDeadLetters reads what all sinks (ITSM and webhooks) gave up on,
// oldest first, each with its sink, reason and the change itself; no file
// means none. A torn last line (a crash mid-write) is left out.
func ListDeadLetters(dead *sinks.DeadLetters) ([]sinks.DeadLetter, error) {
	f, err := os.Open(dead.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer f.Close()
	var out []sinks.DeadLetter
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil // what follows the last newline is a write that did not finish
		}
		if err != nil {
			return nil, fmt.Errorf("dead letters %s: %w", dead.Path(), err)
		}
		var dl sinks.DeadLetter
		if err := json.Unmarshal(line, &dl); err != nil {
			return nil, fmt.Errorf("dead letters %s line %d: %w", dead.Path(), n, err)
		}
		out = append(out, dl)
	}
}
