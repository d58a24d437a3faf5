// Package testenv finds the real servers integration tests need. A test skips
// with a message naming the variable when its server is absent, except under
// QUELL_REQUIRE_SERVERS=1 (set by .ci/run), where absence fails the test.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
// ZooKeeper is the address of a ZooKeeper server (host:port), for
// replicated ClickHouse tables.
func ZooKeeper(t testing.TB) string {
	return need(t, "QUELL_TEST_ZOOKEEPER", "a ZooKeeper server: deploy/local/zookeeper.sh start")
}

func Alertmanager(t testing.TB) string {
	return need(t, "QUELL_TEST_ALERTMANAGER", "an alertmanager binary: deploy/local/alertmanager.sh")
}

// Amtool returns the path of the real amtool that deploy/local/alertmanager.sh
// builds beside alertmanager.
func Amtool(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(filepath.Dir(Alertmanager(t)), "amtool")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no amtool beside QUELL_TEST_ALERTMANAGER (%v): run deploy/local/alertmanager.sh again", err)
	}
	return bin
}

// Podman returns the path of podman (QUELL_TEST_PODMAN), for building and
// checking quell's container image.
func Podman(t testing.TB) string {
	return need(t, "QUELL_TEST_PODMAN", "podman: apt-get install podman")
}

// Chromium returns the path of Chromium (QUELL_TEST_CHROMIUM), which the
// console's test drives headless.
func Chromium(t testing.TB) string {
	return need(t, "QUELL_TEST_CHROMIUM", "Chromium: deploy/local/chromium.sh")
}

// DeployCheck returns the path of deploy/check built
// (QUELL_TEST_DEPLOYCHECK): Helm's command line, strict Kubernetes decoding
// and the Compose loader.
func DeployCheck(t testing.TB) string {
	return need(t, "QUELL_TEST_DEPLOYCHECK", "deploy/check built: deploy/local/deploycheck.sh")
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

// ClickHouseServer is a ClickHouse server of a test's own, to stop and
// start (deploy/local/clickhouse.sh on a free port, its data in a temporary
// folder), for tests of an outage.
type ClickHouseServer struct {
	DSN string
	env []string
}

// OwnClickHouse starts a ClickHouse server for the test alone; it stops
// when the test ends. It needs what QUELL_TEST_CLICKHOUSE's server needs.
func OwnClickHouse(t testing.TB) *ClickHouseServer {
	t.Helper()
	ClickHouse(t) // skips, or fails under QUELL_REQUIRE_SERVERS, without a server
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &ClickHouseServer{env: append(os.Environ(), "QUELL_CLICKHOUSE_DIR="+t.TempDir(), fmt.Sprintf("QUELL_CLICKHOUSE_PORT=%d", port))}
	s.Start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// ClickHouseCluster starts shards×replicas ClickHouse servers for the test
// alone, each declaring the cluster name (remote_servers) with that many
// shards of that many replicas; with replicas, the servers use the keeper
// ZooKeeper returns and their macros name their shard and replica. They
// stop when the test ends. The servers come shard by shard.
func ClickHouseCluster(t testing.TB, name string, shards, replicas int) []*ClickHouseServer {
	t.Helper()
	ClickHouse(t)
	var keeper string
	if replicas > 1 {
		keeper = ZooKeeper(t)
	}
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	addrs := make([][]string, shards)
	var layout []string
	for i := range addrs {
		for range replicas {
			addrs[i] = append(addrs[i], free())
		}
		layout = append(layout, strings.Join(addrs[i], "|"))
	}
	var out []*ClickHouseServer
	for i, shard := range addrs {
		for j, a := range shard {
			_, port, _ := net.SplitHostPort(a)
			env := append(os.Environ(), "QUELL_CLICKHOUSE_DIR="+t.TempDir(), "QUELL_CLICKHOUSE_PORT="+port,
				"QUELL_CLICKHOUSE_CLUSTER="+name+"="+strings.Join(layout, ","))
			if keeper != "" {
				_, interserver, _ := net.SplitHostPort(free())
				env = append(env, "QUELL_CLICKHOUSE_ZOOKEEPER="+keeper, fmt.Sprintf("QUELL_CLICKHOUSE_MACROS=%d/r%d", i+1, j+1),
					"QUELL_CLICKHOUSE_INTERSERVER_PORT="+interserver)
			}
			s := &ClickHouseServer{env: env}
			s.Start(t)
			t.Cleanup(func() { s.Stop(t) })
			out = append(out, s)
		}
	}
	return out
}

// Start starts the server (again), keeping its data.
func (s *ClickHouseServer) Start(t testing.TB) { s.DSN = s.script(t, "start") }

// Stop stops the server.
func (s *ClickHouseServer) Stop(t testing.TB) { s.script(t, "stop") }

func (s *ClickHouseServer) script(t testing.TB, cmd string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	c := exec.Command(filepath.Join(filepath.Dir(here), "..", "..", "deploy", "local", "clickhouse.sh"), cmd)
	c.Env = s.env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("clickhouse.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
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
