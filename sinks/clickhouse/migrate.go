package clickhouse

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered file of migrations/: NNNN_name.sql. A first
// line "-- requires: 21.8" names the oldest server it runs on.
type migration struct {
	version  uint32
	name     string
	stmts    []string
	requires string // "" for every server
}

// Migrate brings the connection's database to the newest schema. It records
// applied versions in schema_migrations and skips those; every statement is
// also idempotent (IF NOT EXISTS, or an ADD COLUMN that finds its column
// already there), so a run cut short, or two at once, can simply run again.
func Migrate(ctx context.Context, conn driver.Conn) error {
	_, err := MigrateReport(ctx, conn)
	return err
}

// MigrateReport is Migrate, also naming the migrations it applied
// ("0002_analytics"); none when the schema was current.
func MigrateReport(ctx context.Context, conn driver.Conn) ([]string, error) {
	var done []string
	migrations, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version UInt32, name String, applied_at DateTime
	) ENGINE = ReplacingMergeTree() ORDER BY version`); err != nil {
		return done, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return done, err
	}
	server, err := serverVersion(ctx, conn)
	if err != nil {
		return done, err
	}
	for _, m := range migrations {
		if applied[m.version] || !versionAtLeast(server, m.requires) {
			continue // too old a server: applied once it is upgraded (see Unavailable)
		}
		for i, stmt := range m.stmts {
			if err := conn.Exec(ctx, stmt); err != nil && !columnExists(stmt, err) {
				return done, fmt.Errorf("migration %04d_%s, statement %d: %w", m.version, m.name, i+1, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return done, fmt.Errorf("record migration %04d_%s: %w", m.version, m.name, err)
		}
		done = append(done, fmt.Sprintf("%04d_%s", m.version, m.name))
	}
	return done, nil
}

// Unavailable names the migrations the server is too old for ("0004_modern
// needs ClickHouse 21.8, this server is 18.16.1").
func Unavailable(ctx context.Context, conn driver.Conn) ([]string, error) {
	migrations, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	server, err := serverVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range migrations {
		if !versionAtLeast(server, m.requires) {
			out = append(out, fmt.Sprintf("%04d_%s needs ClickHouse %s, this server is %s", m.version, m.name, m.requires, server))
		}
	}
	return out, nil
}

func serverVersion(ctx context.Context, conn driver.Conn) (string, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("reading the server's version: %w", err)
	}
	return v, nil
}

// versionAtLeast tells whether a server version ("18.16.1", "24.8.4.13")
// is at least min ("21.8"); any version is at least "".
func versionAtLeast(version, min string) bool {
	if min == "" {
		return true
	}
	num := func(s string) (int, int, bool) {
		parts := strings.SplitN(s, ".", 3)
		if len(parts) < 2 {
			return 0, 0, false
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		return major, minor, err1 == nil && err2 == nil
	}
	vM, vm, ok1 := num(version)
	mM, mm, ok2 := num(min)
	return ok1 && ok2 && (vM > mM || vM == mM && vm >= mm)
}

// columnExists tells whether err is an ADD COLUMN finding its column there:
// 18.16 knows no ADD COLUMN IF NOT EXISTS, so a rerun meets this.
func columnExists(stmt string, err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && ex.Code == 44 && strings.Contains(strings.ToUpper(stmt), "ADD COLUMN") &&
		strings.Contains(ex.Message, "already exists")
}

// record notes m as applied. It uses a batch: 18.16 answers an INSERT with
// inline VALUES by waiting for data blocks, so Exec would hang.
func record(ctx context.Context, conn driver.Conn, m migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.version, m.name, time.Now()); err != nil {
		b.Abort()
		return err
	}
	return b.Send()
}

func appliedVersions(ctx context.Context, conn driver.Conn) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

func loadMigrations() ([]migration, error) {
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []migration
	for _, e := range names {
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name it NNNN_what.sql", e.Name())
		}
		text, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		first, _, _ := strings.Cut(string(text), "\n")
		requires, _ := strings.CutPrefix(first, "-- requires: ")
		if requires == first {
			requires = ""
		}
		out = append(out, migration{version: uint32(v), name: name, stmts: splitStatements(string(text)), requires: strings.TrimSpace(requires)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// splitStatements drops "--" comment lines and splits on ";": the native
// protocol takes one statement per query.
func splitStatements(sql string) []string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	var stmts []string
	for _, s := range strings.Split(b.String(), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}
