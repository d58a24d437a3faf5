package clickhouse

import (
	"context"
	"reflect"
	"sort"
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
	if n := count(t, conn, "SELECT count() FROM schema_migrations"); n != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d rows after two runs, want %d (one per migration)", n, len(ms))
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
	want := []string{"alert_state_changes", "alerts", "alerts_hourly", "alerts_hourly_mv", "dead_letters",
		"decisions", "decisions_hourly", "decisions_hourly_mv", "incident_changes", "incident_members",
		"incidents", "itsm_events", "schema_migrations"}
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
	if want := []string{"0001_initial", "0002_analytics"}; !reflect.DeepEqual(applied, want) {
		t.Errorf("applied %q, want %q", applied, want)
	}
}
