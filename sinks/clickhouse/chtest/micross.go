package chtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/replay"
	"github.com/quellhq/quell/sinks"
	"github.com/quellhq/quell/sinks/clickhouse"
)

// Dataset is the rca-fault-alerts folder: $QUELL_FAULT_ALERTS, else
// shared/datasets/rca-fault-alerts beside the module's checkout.
func Dataset() (string, error) {
	if d := os.Getenv("QUELL_FAULT_ALERTS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "datasets", "rca-fault-alerts"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory; set QUELL_FAULT_ALERTS to the rca-fault-alerts folder")
		}
		dir = parent
	}
}

var micross struct {
	once  sync.Once
	batch sinks.Batch
	err   error
}

// MicroSS converts the MicroSS stream with the data set's faultalerts.py,
// replays it in event time through correlate.DefaultConfig with MicroSS's
// topology, and returns every decision and incident change. It runs once
// per process; callers must not modify the result (see Shift).
func MicroSS() (sinks.Batch, error) {
	micross.once.Do(func() { micross.batch, micross.err = replayMicroSS() })
	return micross.batch, micross.err
}

func replayMicroSS() (sinks.Batch, error) {
	var out sinks.Batch
	data, err := Dataset()
	if err != nil {
		return out, err
	}
	stream, err := os.CreateTemp("", "quell-micross-*.jsonl")
	if err != nil {
		return out, err
	}
	defer os.Remove(stream.Name())
	defer stream.Close()
	cmd := exec.Command("python3", filepath.Join(data, "faultalerts.py"), "convert", "MicroSS")
	cmd.Stdout, cmd.Stderr = stream, os.Stderr
	if err := cmd.Run(); err != nil {
		return out, fmt.Errorf("converting MicroSS with %s/faultalerts.py: %w", data, err)
	}
	alerts, err := replay.ReadFile(stream.Name(), dedupe.NewFingerprinter(nil))
	if err != nil {
		return out, err
	}
	topo, err := correlate.LoadTopology(filepath.Join(data, "MicroSS", "kg.json"))
	if err != nil {
		return out, err
	}
	eng, err := correlate.New(correlate.DefaultConfig(), topo, correlate.Output{
		Decision: func(d quell.Decision) { out.Decisions = append(out.Decisions, d) },
		Change:   func(c quell.IncidentChange) { out.Changes = append(out.Changes, c) },
	})
	if err != nil {
		return out, err
	}
	replay.Run(alerts, eng)
	return out, nil
}

// Shift copies b with every time moved by d and every incident id tagged,
// so that copies of one replay are new alerts and incidents, not repeats.
func Shift(b sinks.Batch, d time.Duration, tag string) sinks.Batch {
	out := sinks.Batch{Decisions: make([]quell.Decision, len(b.Decisions)), Changes: make([]quell.IncidentChange, len(b.Changes))}
	move := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.Add(d)
		}
	}
	for i, x := range b.Decisions {
		move(&x.Alert.StartsAt)
		move(&x.Alert.EndsAt)
		move(&x.Alert.ReceivedAt)
		move(&x.At)
		x.Incident += tag
		out.Decisions[i] = x
	}
	for i, c := range b.Changes {
		inc := c.Incident
		move(&inc.CreatedAt)
		move(&inc.UpdatedAt)
		move(&inc.ResolvedAt)
		move(&c.At)
		inc.ID += tag
		c.Incident = inc
		out.Changes[i] = c
	}
	return out
}

// Range is the event-time span of b's decisions, end exclusive.
func Range(b sinks.Batch) (from, to time.Time) {
	for i := range b.Decisions {
		t := b.Decisions[i].Alert.EventTime()
		if from.IsZero() || t.Before(from) {
			from = t
		}
		if t.After(to) {
			to = t
		}
	}
	return from, to.Add(time.Second)
}

// FillMicroSS writes the MicroSS replay into conn's database through the
// sink and returns its event-time range. It fails the test if anything
// went to the dead letters.
func FillMicroSS(t testing.TB, conn driver.Conn) (from, to time.Time) {
	t.Helper()
	b, err := MicroSS()
	if err != nil {
		t.Fatal(err)
	}
	dead := sinks.NewDeadLetters(t.TempDir())
	ctx := context.Background()
	s, err := clickhouse.NewSink(ctx, conn, clickhouse.DefaultSinkConfig(), dead, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead.Path()); err == nil {
		t.Fatalf("the sink dead-lettered part of the MicroSS replay: see %s", dead.Path())
	}
	return Range(b)
}
