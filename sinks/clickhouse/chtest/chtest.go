// Package chtest fills a real ClickHouse with quell's output for tests and
// benchmarks: fresh databases, and the MicroSS fault-alert stream replayed
// through the correlator and written by the sink.
package chtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks/clickhouse"
)

// DB opens a fresh, migrated database on the test server (testenv) and
// drops it when the test ends, unless QUELL_TEST_KEEP_DB=1. It returns the
// connection and the database's DSN.
func DB(t testing.TB) (driver.Conn, string) {
	t.Helper()
	dsn := testenv.ClickHouse(t)
	ctx := context.Background()
	admin, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	db := fmt.Sprintf("quell_test_%d", time.Now().UnixNano())
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("QUELL_TEST_KEEP_DB") == "1" {
			t.Logf("kept database %s", db)
			return
		}
		if err := admin.Exec(ctx, "DROP DATABASE "+db); err != nil {
			t.Errorf("drop test database %s: %v", db, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	conn, err := clickhouse.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := clickhouse.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn, u.String()
}
