// Package testenv finds the real servers integration tests need. A test skips
// with a message naming the variable when its server is absent, except under
// QUELL_REQUIRE_SERVERS=1 (set by .ci/run), where absence fails the test.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Kafka returns the bootstrap address of a real Kafka broker (QUELL_TEST_KAFKA).
func Kafka(t testing.TB) string {
	return need(t, "QUELL_TEST_KAFKA", "a Kafka broker: deploy/local/kafka.sh start")
}

// ClickHouse returns the DSN of a real ClickHouse server (QUELL_TEST_CLICKHOUSE).
func ClickHouse(t testing.TB) string {
	return need(t, "QUELL_TEST_CLICKHOUSE", "a ClickHouse server: deploy/local/clickhouse.sh start")
}

// Alertmanager returns the path of a real alertmanager binary (QUELL_TEST_ALERTMANAGER).
func Alertmanager(t testing.TB) string {
	return need(t, "QUELL_TEST_ALERTMANAGER", "an alertmanager binary: deploy/local/alertmanager.sh")
}

// CurrentClickHouse returns the path of a python with chDB, a current
// ClickHouse engine in-process (QUELL_TEST_CHDB), for checking that quell's
// SQL runs on today's releases as well as on the 18.16 server.
func CurrentClickHouse(t testing.TB) string {
	return need(t, "QUELL_TEST_CHDB", "chDB (a current ClickHouse as a Python module): deploy/local/chdb.sh")
}

func need(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("QUELL_REQUIRE_SERVERS") == "1" {
		t.Fatalf("%s is not set: this test needs %s", name, what)
	}
	t.Skipf("%s is not set: skipping; this test needs %s", name, what)
	return ""
}

// ClickHouseDatabase creates a fresh database on the test server and returns
// its DSN; the database is dropped when the test ends, unless
// QUELL_TEST_KEEP_DB=1 (to look at it after).
func ClickHouseDatabase(t testing.TB) string {
	t.Helper()
	dsn := ClickHouse(t)
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("QUELL_TEST_CLICKHOUSE=%s: %v", dsn, err)
	}
	admin, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
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
	return u.String()
}

// SmallDisk mounts a tmpfs of size bytes and returns its path, for tests of
// a full disk; it is unmounted when the test ends. Mounting needs root (or
// a user namespace: unshare -Urm go test ...).
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if os.Getenv("QUELL_REQUIRE_SERVERS") == "1" {
			t.Fatalf("mounting a %d-byte tmpfs for a full-disk test: %v (run as root, or under unshare -Urm)", size, err)
		}
		t.Skipf("mounting a tmpfs for a full-disk test: %v (run as root, or under unshare -Urm)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting the test's tmpfs %s: %v", dir, err)
		}
	})
	return dir
}
