// Package lograte logs a repeating problem once per interval, with how many
// times it happened, so that a flood of refusals cannot fill the disk.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limit logs one message at most once per interval.
type Limit struct {
	log   *slog.Logger
	level slog.Level
	msg   string
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	count int
}

// New logs msg at level at most once per every.
func New(log *slog.Logger, level slog.Level, msg string, every time.Duration) *Limit {
	return &Limit{log: log, level: level, msg: msg, every: every}
}

// Log counts one occurrence and logs it with attrs when the interval since
// the last line has passed, saying how many occurrences the line stands for.
func (l *Limit) Log(attrs ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	now := time.Now()
	if now.Sub(l.last) < l.every {
		return
	}
	l.log.Log(context.Background(), l.level, l.msg, append([]any{"times", l.count, "interval", l.every}, attrs...)...)
	l.last, l.count = now, 0
}
