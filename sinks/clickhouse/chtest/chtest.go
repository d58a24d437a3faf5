// Package chtest fills a real ClickHouse with quell's output for tests and
// benchmarks: fresh databases, and the MicroSS fault-alert stream replayed
// through the correlator and written by the sink.
package chtest

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks/clickhouse"
)

// DB opens a fresh, migrated database on the test server (testenv) and
// drops it when the test ends, unless QUELL_TEST_KEEP_DB=1. It returns the
// connection and the database's DSN.
func DB(t testing.TB) (driver.Conn, string) {
	t.Helper()
	dsn := testenv.ClickHouseDatabase(t)
	ctx := context.Background()
	conn, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := clickhouse.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn, dsn
}
