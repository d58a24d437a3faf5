package clickhouse

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
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
	done, err := migrateReplicas(ctx, []driver.Conn{conn}, nil)
	return done[0], err
}

// migrateReplicas migrates the databases of conns, the replicas of one
// shard (one: an unreplicated server), migration by migration in step, and
// returns what it applied to each. With replicas, rewrite makes each
// CREATE's engine replicated, and an ALTER runs on the first replica only:
// replication carries it to the others, which wait for it before their
// next migration (two replicas altering one table conflict).
func migrateReplicas(ctx context.Context, conns []driver.Conn, rewrite func(string) string) ([][]string, error) {
	done := make([][]string, len(conns))
	migrations, err := loadMigrations()
	if err != nil {
		return done, err
	}
	applied := make([]map[uint32]bool, len(conns))
	servers := make([]string, len(conns))
	for i, conn := range conns {
		if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version UInt32, name String, applied_at DateTime
		) ENGINE = ReplacingMergeTree() ORDER BY version`); err != nil {
			return done, fmt.Errorf("create schema_migrations: %w", err)
		}
		if applied[i], err = appliedVersions(ctx, conn); err != nil {
			return done, err
		}
		if servers[i], err = serverVersion(ctx, conn); err != nil {
			return done, err
		}
	}
	for _, m := range migrations {
		for i, conn := range conns {
			if applied[i][m.version] || !versionAtLeast(servers[i], m.requires) {
				continue // too old a server: applied once it is upgraded (see Unavailable)
			}
			var altered []string
			for j, stmt := range m.stmts {
				if table, ok := alteredTable(stmt); ok && rewrite != nil {
					altered = append(altered, table)
					if i > 0 {
						continue
					}
				}
				if rewrite != nil {
					stmt = rewrite(stmt)
				}
				if err := conn.Exec(ctx, stmt); err != nil && !columnExists(stmt, err) {
					return done, fmt.Errorf("migration %04d_%s, statement %d: %w", m.version, m.name, j+1, err)
				}
			}
			if i > 0 {
				if err := sameColumns(ctx, conns[0], conn, altered); err != nil {
					return done, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
				}
			}
			if err := record(ctx, conn, m); err != nil {
				return done, fmt.Errorf("record migration %04d_%s: %w", m.version, m.name, err)
			}
			done[i] = append(done[i], fmt.Sprintf("%04d_%s", m.version, m.name))
		}
	}
	return done, nil
}

var (
	alterRE     = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(\w+)`)
	createRE    = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:MATERIALIZED\s+VIEW|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)`)
	mergeTreeRE = regexp.MustCompile(`ENGINE\s*=\s*(\w*)MergeTree\(([^)]*)\)`)
)

// alteredTable names the table an ALTER statement changes.
func alteredTable(stmt string) (string, bool) {
	m := alterRE.FindStringSubmatch(stmt)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// replicated makes a CREATE statement's MergeTree engine its Replicated
// variant, at a keeper path per shard, database and table; the server's
// macros name its shard and replica.
func replicated(db string) func(string) string {
	return func(stmt string) string {
		m := createRE.FindStringSubmatch(stmt)
		if m == nil {
			return stmt
		}
		return mergeTreeRE.ReplaceAllStringFunc(stmt, func(engine string) string {
			e := mergeTreeRE.FindStringSubmatch(engine)
			args := "'/clickhouse/tables/{shard}/" + db + "/" + m[1] + "', '{replica}'"
			if strings.TrimSpace(e[2]) != "" {
				args += ", " + e[2]
			}
			return "ENGINE = Replicated" + e[1] + "MergeTree(" + args + ")"
		})
	}
}

// sameColumns waits until replica has the columns first has in tables:
// what replication of an ALTER brings.
func sameColumns(ctx context.Context, first, replica driver.Conn, tables []string) error {
	columns := func(conn driver.Conn, table string) (string, error) {
		var cols string
		err := conn.QueryRow(ctx, "SELECT arrayStringConcat(groupArray(concat(name, ' ', type)), ', ') FROM (SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ? ORDER BY name)", table).Scan(&cols)
		return cols, err
	}
	for _, t := range tables {
		want, err := columns(first, t)
		if err != nil {
			return err
		}
		for deadline := time.Now().Add(replicationWait); ; time.Sleep(100 * time.Millisecond) {
			got, err := columns(replica, t)
			if err != nil {
				return err
			}
			if got == want {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("table %s: a replica still has columns %s, not %s, %s after the ALTER (is replication running?)", t, got, want, replicationWait)
			}
		}
	}
	return nil
}

// replicationWait bounds how long a replica may take to apply an ALTER.
const replicationWait = time.Minute

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
