package clickhouse

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks"
)

// testDB opens a fresh database on the test server, migrated, and drops it
// when the test ends (unless QUELL_TEST_KEEP_DB=1, to look at it after).
func testDB(t testing.TB) driver.Conn {
	t.Helper()
	conn := emptyDB(t)
	if err := Migrate(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	return conn
}

// emptyDB opens a fresh, unmigrated database on the test server.
func emptyDB(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := Open(context.Background(), testenv.ClickHouseDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testWriter(t testing.TB, conn driver.Conn) *Writer {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return NewWriter(conn, log, Backoff{})
}

// store writes b through s and closes it: every row is inserted when it
// returns.
func store(t testing.TB, s *Sink, b sinks.Batch) {
	t.Helper()
	if err := s.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// count runs a query returning one number.
func count(t testing.TB, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	err := conn.QueryRow(context.Background(), query).Scan(&n)
	if err != nil {
		// The pool may hand out a connection the server closed after it
		// refused a sink's insert; the driver drops it, and the next try
		// gets a fresh one.
		err = conn.QueryRow(context.Background(), query).Scan(&n)
	}
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

var t0 = time.Date(2024, 3, 5, 10, 15, 30, 250_000_000, time.UTC)

// decision makes a decision for an alert named name on service svc,
// received at t0+offset.
func decision(name, svc string, status quell.Status, action quell.Action, offset time.Duration) quell.Decision {
	a := quell.Alert{
		Source:      "alertmanager",
		Status:      status,
		Labels:      map[string]string{"alertname": name, "service": svc, "instance": svc + "-1"},
		Annotations: map[string]string{"summary": name + " on " + svc},
		StartsAt:    t0,
		Severity:    quell.Warning,
		Fingerprint: quell.Fingerprint(len(name)*1000 + len(svc)),
		ReceivedAt:  t0.Add(offset),
		Raw:         []byte(`{"labels":{"alertname":"` + name + `"}}`),
	}
	if status == quell.Resolved {
		a.EndsAt = t0.Add(offset)
	}
	return quell.Decision{Alert: a, Incident: "inc-1", Action: action, Reason: "shared service " + svc, At: a.EventTime()}
}
