package clickhouse

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks"
)

func TestSinkConfigValidate(t *testing.T) {
	ok := DefaultSinkConfig()
	ok.DSN = "clickhouse://127.0.0.1:9000/default"
	for _, tc := range []struct {
		name  string
		edit  func(c *SinkConfig)
		field string // "" when valid
	}{
		{"defaults", func(c *SinkConfig) {}, ""},
		{"off", func(c *SinkConfig) { *c = SinkConfig{} }, ""},
		{"no batch", func(c *SinkConfig) { c.BatchSize = 0 }, "clickhouse.batch_size"},
		{"no age", func(c *SinkConfig) { c.BatchAge = 0 }, "clickhouse.batch_age"},
		{"buffer below batch", func(c *SinkConfig) { c.MaxBuffered = c.BatchSize - 1 }, "clickhouse.max_buffered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.field == "") || err != nil && !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Errorf("Validate() = %v; want an error naming %q", err, tc.field)
			}
		})
	}
}

// TestSinkOutage stops a ClickHouse server of its own while writes go on,
// starts it again, and checks that Write pushed back instead of growing
// past max_buffered, and that every row arrived exactly once.
// TestSinkOutage: with its server down the sink holds what it was given
// up to its bound, in items or in bytes, then blocks Write; once the
// server is back everything arrives.
func TestSinkOutage(t *testing.T) {
	const batches, per = 60, 50
	ds, rs := lean(batchN(0, per).Decisions, false)
	size := queuedBytes(ds, rs, batchN(0, per).Changes)
	for _, cfg := range []SinkConfig{
		{BatchSize: 300, BatchAge: 20 * time.Millisecond, MaxBuffered: 1000},
		{BatchSize: 300, BatchAge: 20 * time.Millisecond, MaxBuffered: 100_000, MaxBufferedBytes: 8 * size},
	} {
		name := "max_buffered"
		if cfg.MaxBufferedBytes > 0 {
			name = "bytes"
		}
		t.Run(name, func(t *testing.T) { sinkOutage(t, cfg, batches, per) })
	}
}

func sinkOutage(t *testing.T, cfg SinkConfig, batches, per int) {
	testenv.ClickHouse(t)
	srv := testenv.OwnClickHouse(t)
	conn := ownDB(t, srv)
	reg := prometheus.NewRegistry()
	s := testSink(t, conn, cfg, reg)

	progress := make(chan int, batches)
	errs := make(chan error, 1)
	go func() {
		for i := range batches {
			if err := s.Write(context.Background(), batchN(i, per)); err != nil {
				errs <- err
				return
			}
			progress <- i
		}
		close(progress)
	}()
	for i := range progress {
		if i == 10 {
			srv.Stop(t)
			break
		}
	}
	// While the server is down, Write must stop taking batches once the
	// queue holds max_buffered items.
	time.Sleep(2 * time.Second)
	stalled := len(progress)
	time.Sleep(time.Second)
	if len(progress) != stalled || stalled >= batches-11 {
		t.Fatalf("Write kept accepting batches with ClickHouse down (%d then %d of %d); want it to block at max_buffered", stalled, len(progress), batches-11)
	}
	if b := testutil.ToFloat64(s.m.buffered); b > float64(cfg.MaxBuffered) {
		t.Errorf("buffered %v items, above max_buffered %d", b, cfg.MaxBuffered)
	}
	s.mu.Lock()
	held := s.bytes
	s.mu.Unlock()
	if cfg.MaxBufferedBytes > 0 && held > cfg.MaxBufferedBytes {
		t.Errorf("buffered %d bytes, above the bound of %d", held, cfg.MaxBufferedBytes)
	}
	if s.Ready() == nil {
		t.Errorf("the sink reports ready with its buffer full")
	}
	srv.Start(t)
	for range progress {
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"alerts": uint64(batches * per), "decisions": uint64(batches * per), "incident_changes": uint64(batches), "dead_letters": 0}
	for table, n := range want {
		if got := count(t, conn, "SELECT count() FROM "+table+" FINAL"); got != n {
			t.Errorf("%s FINAL has %d rows, want %d", table, got, n)
		}
	}
	// Which table's insert met the outage first depends on timing: count them all.
	var transient float64
	for _, table := range []string{"alerts", "decisions", "alert_state_changes", "incidents", "incident_changes", "incident_members"} {
		transient += testutil.ToFloat64(s.m.errs.WithLabelValues(table, "transient"))
	}
	if transient == 0 {
		t.Errorf("no transient insert errors counted across the outage")
	}
	if n := testutil.ToFloat64(s.m.rows.WithLabelValues("decisions")); n < float64(batches*per) {
		t.Errorf("rows written to decisions counted %v, want at least %d", n, batches*per)
	}
}

// TestSinkRefused: a table the server does not have refuses every insert:
// the batch goes to the dead-letter file and table with the reason, and
// Write never fails for it.
func TestSinkRefused(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, "DROP TABLE incident_changes"); err != nil {
		t.Fatal(err)
	}
	s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
	if err := s.Write(ctx, batchN(0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM decisions FINAL"); n != 5 {
		t.Errorf("decisions has %d rows, want 5: a refused table must not hold back the others", n)
	}
	if n := count(t, conn, "SELECT count() FROM dead_letters WHERE stage = 'sink.clickhouse.incident_changes' AND reason LIKE '%quell migrate%'"); n != 1 {
		t.Errorf("dead_letters has %d incident change rows naming the fix, want 1", n)
	}
	letters := readLines(t, s.dead.Path())
	if len(letters) != 1 || !strings.Contains(letters[0], `"sink":"clickhouse.incident_changes"`) || !strings.Contains(letters[0], "quell migrate") {
		t.Errorf("dead-letter file:\n%s\nwant one incident_changes record with the reason", strings.Join(letters, "\n"))
	}
}

// TestSinkRepeats: repeats written through the sink, queued lean, are
// counted exactly (alert_repeats, per fingerprint) and stored as no row;
// refused, they reach the dead letters with what their row said.
func TestSinkRepeats(t *testing.T) {
	ctx := context.Background()
	batch := func() sinks.Batch {
		b := sinks.Batch{Decisions: []quell.Decision{decision("DiskFull", "db", quell.Firing, quell.ActionCreated, 0)}}
		for r := 1; r <= 30; r++ {
			b.Decisions = append(b.Decisions, decision("DiskFull", "db", quell.Firing, quell.ActionDeduplicated, time.Duration(r)*time.Second))
		}
		return b
	}
	t.Run("counted", func(t *testing.T) {
		conn := testDB(t)
		s := testSink(t, conn, SinkConfig{BatchSize: 7, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
		for range 2 { // delivered again, as after a restart
			if err := s.Write(ctx, batch()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, conn, "SELECT count() FROM alerts FINAL"); n != 1 {
			t.Errorf("alerts has %d rows, want 1: repeats are counted, not stored", n)
		}
		if n := count(t, conn, "SELECT toUInt64(uniqExactMerge(occurrences)) FROM alert_repeats WHERE alertname = 'DiskFull' AND service = 'db'"); n != 30 {
			t.Errorf("alert_repeats counts %d repeats, want 30", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		conn := testDB(t)
		if err := conn.Exec(ctx, "DROP TABLE repeats"); err != nil {
			t.Fatal(err)
		}
		s := testSink(t, conn, SinkConfig{BatchSize: 100, BatchAge: 10 * time.Millisecond, MaxBuffered: 1000}, nil)
		if err := s.Write(ctx, batch()); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, conn, "SELECT count() FROM alerts FINAL"); n != 1 {
			t.Errorf("alerts has %d rows, want 1: refused repeats must not hold back the others", n)
		}
		letters := readLines(t, s.dead.Path())
		if len(letters) != 1 || !strings.Contains(letters[0], `"sink":"clickhouse.repeats"`) ||
			strings.Count(letters[0], `"alertname":"DiskFull","service":"db"`) != 30 {
			t.Errorf("dead-letter file:\n%s\nwant one record of the 30 repeats, each naming its alert", strings.Join(letters, "\n"))
		}
	})
}

// TestSinkCloseFlushes: Close stores a batch that is neither full nor old.
func TestSinkCloseFlushes(t *testing.T) {
	conn := testDB(t)
	s := testSink(t, conn, SinkConfig{BatchSize: 10_000, BatchAge: time.Hour, MaxBuffered: 10_000}, nil)
	ctx := context.Background()
	if err := s.Write(ctx, batchN(0, 7)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT count() FROM decisions FINAL"); n != 7 {
		t.Errorf("decisions has %d rows after Close, want 7", n)
	}
}

func TestNewSinkNeedsSchema(t *testing.T) {
	conn := emptyDB(t)
	_, err := NewSink(context.Background(), conn, DefaultSinkConfig(), sinks.NewDeadLetters(t.TempDir()), slog.Default(), nil)
	if err == nil || !strings.Contains(err.Error(), "quell migrate") {
		t.Errorf("NewSink on an empty database: %v; want an error telling to run quell migrate", err)
	}
}

func testSink(t *testing.T, conn driver.Conn, cfg SinkConfig, reg prometheus.Registerer) *Sink {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	s, err := NewSink(context.Background(), conn, cfg, sinks.NewDeadLetters(t.TempDir()), log, reg)
	if err != nil {
		t.Fatal(err)
	}
	s.w.backoff = Backoff{Attempts: 2, Initial: 50 * time.Millisecond, Max: 300 * time.Millisecond}
	return s
}

// batchN is batch number i: per decisions of distinct alerts and one
// incident change.
func batchN(i, per int) sinks.Batch {
	var b sinks.Batch
	for j := range per {
		d := decision(fmt.Sprintf("Alert%d", j), fmt.Sprintf("svc-%d", i), quell.Firing, quell.ActionJoined, time.Duration(i*per+j)*time.Millisecond)
		d.Alert.Fingerprint = quell.Fingerprint(i*per + j + 1)
		d.Incident = fmt.Sprintf("inc-%d", i)
		b.Decisions = append(b.Decisions, d)
	}
	inc := quell.Incident{ID: fmt.Sprintf("inc-%d", i), Status: quell.IncidentOpen, Title: "t", Severity: quell.Warning, CreatedAt: t0, UpdatedAt: t0}
	b.Changes = []quell.IncidentChange{{Kind: quell.IncidentCreated, Incident: inc, Seq: 1, At: t0}}
	return b
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// ownDB opens an own server's default database, migrated.
func ownDB(t *testing.T, srv *testenv.ClickHouseServer) driver.Conn {
	t.Helper()
	conn, err := Open(context.Background(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := Migrate(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	return conn
}
