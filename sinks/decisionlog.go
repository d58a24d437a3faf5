package sinks

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// DecisionLog writes the decision log: one JSON decision record a line.
type DecisionLog struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
	c   io.Closer
}

// NewDecisionLog writes to w; Close closes c when not nil.
func NewDecisionLog(w io.Writer, c io.Closer) *DecisionLog {
	bw := bufio.NewWriterSize(w, 1<<16)
	return &DecisionLog{w: bw, enc: json.NewEncoder(bw), c: c}
}

func (d *DecisionLog) Name() string { return "decision log" }

// Write appends the batch's decisions and flushes them, so the file is
// complete up to every acknowledged batch.
func (d *DecisionLog) Write(_ context.Context, b Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range b.Decisions {
		if err := d.enc.Encode(&b.Decisions[i]); err != nil {
			return fmt.Errorf("decision log: %w", err)
		}
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
