// Package clickhouse stores quell's alerts, decisions, incidents and dead
// letters in ClickHouse, and owns the schema (Migrate).
//
// It speaks the native protocol only: ClickHouse 18.16 (Debian's package,
// see deploy/local/clickhouse.sh) rejects clickhouse-go's HTTP hello, and
// the schema sticks to what both 18.16 and current releases accept.
// Writes are idempotent: tables are ReplacingMergeTree keyed by each row's
// identity, so redelivered batches collapse on merge (see the comments in
// migrations/ for how queries must read them).
package clickhouse
