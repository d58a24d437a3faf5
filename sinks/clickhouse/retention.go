package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention is how long the tables keep their rows, in days: raw rows
// (occurrences, decisions, changes, dead letters) and aggregates (the
// rollups, repeat counts, incidents and ITSM events, which the long-range
// panels read).
type Retention struct {
	RawDays       int `yaml:"raw_days"`
	AggregateDays int `yaml:"aggregate_days"`
}

// DefaultRetention keeps a month of raw rows and over a year of aggregates.
func DefaultRetention() Retention { return Retention{RawDays: 30, AggregateDays: 400} }

func (r Retention) validate() error {
	if r.RawDays < 1 || r.AggregateDays < 1 {
		return fmt.Errorf("clickhouse.retention: raw_days %d, aggregate_days %d; want at least 1 day each (a large number keeps rows for good)", r.RawDays, r.AggregateDays)
	}
	return nil
}

// retainedTable is a table, its time column and whether it is an aggregate.
type retainedTable struct {
	table, column string
	aggregate     bool
}

// retained are the tables a retention applies to.
var retained = []retainedTable{
	{"alerts", "event_time", false},
	{"decisions", "event_time", false},
	{"alert_state_changes", "event_time", false},
	{"incident_changes", "changed_at", false},
	{"incident_members", "joined_at", false},
	{"dead_letters", "failed_at", false},
	{"alerts_hourly", "hour", true},
	{"decisions_hourly", "hour", true},
	{"alert_repeats", "minute", true},
	{"incidents", "updated_at", true},
	{"itsm_events", "at", true},
}

// ErrNoTTL is returned by ApplyRetention on a server without TTL.
type ErrNoTTL struct{ Version string }

func (e *ErrNoTTL) Error() string {
	return fmt.Sprintf("ClickHouse %s has no TTL (19.6 and later have): retention not applied; drop old monthly partitions by hand (ALTER TABLE alerts DROP PARTITION 202401)", e.Version)
}

// ApplyRetention sets every table's TTL to r, returning one line per table
// ("alerts: 30 days"). On a server without TTL it changes nothing and
// returns an *ErrNoTTL.
func ApplyRetention(ctx context.Context, conn driver.Conn, r Retention) ([]string, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	version, err := serverVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	if !hasTTL(version) {
		return nil, &ErrNoTTL{Version: version}
	}
	var done []string
	for _, t := range retained {
		if err := conn.Exec(ctx, t.statement(r)); err != nil {
			return done, fmt.Errorf("setting the retention of %s: %w", t.table, err)
		}
		done = append(done, fmt.Sprintf("%s: %d days", t.table, t.days(r)))
	}
	return done, nil
}

// days is how long r keeps the table's rows.
func (t retainedTable) days(r Retention) int {
	if t.aggregate {
		return r.AggregateDays
	}
	return r.RawDays
}

// statement sets the table's TTL to what r keeps.
func (t retainedTable) statement(r Retention) string {
	return fmt.Sprintf("ALTER TABLE %s MODIFY TTL %s + INTERVAL %d DAY", t.table, t.column, t.days(r))
}

// hasTTL tells whether a server version ("18.16.1", "24.8.4.13") knows
// table TTLs: 19.6 and later.
func hasTTL(version string) bool { return versionAtLeast(version, "19.6") }
