// Package testenv finds the real servers integration tests need. A test skips
// with a message naming the variable when its server is absent, except under
// QUELL_REQUIRE_SERVERS=1 (set by .ci/run), where absence fails the test.
package testenv

import (
	"os"
	"testing"
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
