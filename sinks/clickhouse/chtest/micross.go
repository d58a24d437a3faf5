package chtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/quality"
	"github.com/quellhq/quell/internal/replay"
	"github.com/quellhq/quell/sinks"
	"github.com/quellhq/quell/sinks/clickhouse"
)

var micross struct {
	once  sync.Once
	batch sinks.Batch
	err   error
}

// MicroSS replays the MicroSS fault-labelled alerts (embedded in package
// quality) in event time through correlate.DefaultConfig with MicroSS's
// topology, and returns every decision and incident change. It runs once
// per process; callers must not modify the result (see Shift).
func MicroSS() (sinks.Batch, error) {
	micross.once.Do(func() { micross.batch, micross.err = replayMicroSS() })
	return micross.batch, micross.err
}

func replayMicroSS() (sinks.Batch, error) {
	var out sinks.Batch
	set, err := quality.MicroSS(1)
	if err != nil {
		return out, err
	}
	alerts := quality.Alerts(set.Events, "alertmanager")
	fp := dedupe.NewFingerprinter(nil)
	for i := range alerts {
		alerts[i].Fingerprint = fp.Fingerprint(&alerts[i])
	}
	eng, err := correlate.New(correlate.DefaultConfig(), set.Topology, correlate.Output{
		Decision: func(d quell.Decision) { out.Decisions = append(out.Decisions, d) },
		Change:   func(c quell.IncidentChange) { out.Changes = append(out.Changes, c) },
	})
	if err != nil {
		return out, err
	}
	replay.Run(alerts, nil, eng)
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
