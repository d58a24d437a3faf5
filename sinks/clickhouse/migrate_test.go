package clickhouse

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- a comment; with a semicolon\nCREATE TABLE a (x UInt8);\n\n  -- more\nCREATE VIEW b AS SELECT 1;\n")
	want := []string{"CREATE TABLE a (x UInt8)", "CREATE VIEW b AS SELECT 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != uint32(i+1) || len(m.stmts) == 0 {
			t.Errorf("migration %d: version %d with %d statements; want versions 1, 2, ... each with statements", i, m.version, len(m.stmts))
		}
	}
}

func TestMigrateTwice(t *testing.T) {
	conn := emptyDB(t)
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		if err := Migrate(ctx, conn); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	ms, _ := loadMigrations()
	version, err := serverVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	for _, m := range ms {
		if versionAtLeast(version, m.requires) {
			runs++
		}
	}
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(runs) {
		t.Errorf("schema_migrations has %d rows after two runs, want %d (one per migration this server runs)", n, runs)
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	sort.Strings(tables)
	want := []string{"alert_repeats", "alert_repeats_mv", "alert_state_changes", "alerts", "alerts_hourly", "alerts_hourly_mv", "dead_letters",
		"decisions", "decisions_hourly", "decisions_hourly_mv", "incident_changes", "incident_members",
		"incidents", "itsm_events", "repeats", "repeats_alerts_hourly_mv", "repeats_decisions_hourly_mv", "schema_migrations"}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("tables:\n got %q\nwant %q", tables, want)
	}
}

// TestMigrateResumes: a run cut short after an ADD COLUMN (18.16 has no IF
// NOT EXISTS for it) completes when run again.
func TestMigrateResumes(t *testing.T) {
	conn := emptyDB(t)
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range append(ms[0].stmts, ms[1].stmts[0]) {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	applied, err := MigrateReport(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"0001_initial", "0002_analytics", "0003_lean", "0005_signature", "0006_feedback"}; !reflect.DeepEqual(applied, want) {
		t.Errorf("applied %q, want %q", applied, want)
	}
}

// TestMigrateCountsStoredRepeats: moving an installation to lean storage
// counts the repeats it stored as rows into alert_repeats, once however
// often the migration runs.
func TestMigrateCountsStoredRepeats(t *testing.T) {
	conn := emptyDB(t)
	ctx := context.Background()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		for _, stmt := range m.stmts {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Before version 3 each repeat was a decision row.
	if err := conn.Exec(ctx, `INSERT INTO decisions (event_id, fingerprint, source, status, alertname, service, event_time, action)
		SELECT number, toFixedString('00000000000000a1', 16), 'alertmanager', 'firing', 'A', 'api', toDateTime('2024-03-05 10:00:00') + number, 'deduplicated'
		FROM system.numbers LIMIT 5`); err != nil {
		t.Fatal(err)
	}
	if _, err := MigrateReport(ctx, conn); err != nil {
		t.Fatal(err)
	}
	backfill := ms[2].stmts[len(ms[2].stmts)-1]
	if err := conn.Exec(ctx, backfill); err != nil { // as a rerun after a run cut short would
		t.Fatal(err)
	}
	if n := count(t, conn, "SELECT toUInt64(uniqExactMerge(occurrences)) FROM alert_repeats WHERE fingerprint = toFixedString('00000000000000a1', 16)"); n != 5 {
		t.Errorf("alert_repeats counts %d repeats stored before the migration, want 5", n)
	}
}

func TestHasTTL(t *testing.T) {
	for v, want := range map[string]bool{"18.16.1": false, "19.5.3.8": false, "19.6.2.11": true, "20.3.1": true, "26.9.2.1": true, "": false, "dev": false} {
		if got := hasTTL(v); got != want {
			t.Errorf("hasTTL(%q) = %v, want %v", v, got, want)
		}
	}
}

// On the test server (18.16 in CI) the migrations that need a newer one
// are skipped, named by Unavailable, and applied once the server is new
// enough; TestSchemaOnCurrentClickHouse runs them on a current engine.
func TestModernMigrationsWaitForTheirServer(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	version, err := serverVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := Unavailable(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	modern := versionAtLeast(version, "21.8")
	named := len(missing) == 1 && strings.HasPrefix(missing[0], "0004_modern needs ClickHouse 21.8, this server is "+version)
	if applied[4] == modern && named != modern {
		return
	}
	t.Errorf("ClickHouse %s: 0004_modern applied %v, unavailable %q; want it applied exactly on 21.8 and later, else named", version, applied[4], missing)
}

// TestRetentionOnTheTestServer: on a server with TTL every table gets its
// retention; on one without (18.16, in CI) nothing changes and the error
// says so. TestSchemaOnCurrentClickHouse runs the TTLs on a current engine.
func TestRetentionOnTheTestServer(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	kept, err := ApplyRetention(ctx, conn, Retention{RawDays: 7, AggregateDays: 90})
	if !hasTTL(version) {
		var noTTL *ErrNoTTL
		if !errors.As(err, &noTTL) || len(kept) != 0 || !strings.Contains(err.Error(), version) {
			t.Fatalf("ClickHouse %s: %v, %q; want ErrNoTTL naming the version and nothing applied", version, err, kept)
		}
		return
	}
	if err != nil || len(kept) != len(retained) {
		t.Fatalf("ClickHouse %s: %v, %q", version, err, kept)
	}
	var engine string
	if err := conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'decisions'").Scan(&engine); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(engine, "toIntervalDay(7)") {
		t.Errorf("decisions: %s; want a 7-day TTL", engine)
	}
}

func TestRetentionRefusesZero(t *testing.T) {
	if _, err := ApplyRetention(context.Background(), nil, Retention{RawDays: 0, AggregateDays: 400}); err == nil || !strings.Contains(err.Error(), "raw_days") {
		t.Fatalf("raw_days 0: %v, want an error naming it", err)
	}
}
