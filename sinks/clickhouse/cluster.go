package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// shardKeys says how each table's rows spread over a cluster's shards: by
// the key its rows deduplicate on, so that each shard's merges and FINAL
// see every copy of a row. Rollups filled by views on each shard are never
// inserted through the cluster (rand()).
var shardKeys = map[string]string{
	"alerts":              "cityHash64(fingerprint)",
	"decisions":           "cityHash64(fingerprint)",
	"alert_state_changes": "cityHash64(fingerprint)",
	"repeats":             "cityHash64(fingerprint)",
	"alert_repeats":       "cityHash64(fingerprint)",
	"incidents":           "cityHash64(incident_id)",
	"incident_changes":    "cityHash64(incident_id)",
	"incident_members":    "cityHash64(incident_id)",
	"itsm_events":         "cityHash64(incident_id)",
	"dead_letters":        "cityHash64(event_id)",
	"alerts_hourly":       "rand()",
	"decisions_hourly":    "rand()",
	"schema_migrations":   "rand()",
}

// LocalDatabase is where a cluster's shards keep the tables themselves;
// the DSN's database holds the Distributed tables over them.
func LocalDatabase(db string) string { return db + "_local" }

// MigrateCluster creates or upgrades quell's schema on every shard of
// cluster (as the server at dsn lists it in system.clusters, from its
// remote_servers). Each shard gets the schema Migrate creates in
// LocalDatabase(db), and in db a Distributed table over each of its
// tables: quell writes and the dashboards read through those, as they do
// a single server's tables. It returns what it applied, per server. The
// retention is then set on every server's tables (see ApplyRetention,
// whose *ErrNoTTL it returns on servers without TTL).
//
// With a keeper (ZooKeeper or ClickHouse Keeper), a shard may have
// replicas: its tables are Replicated*MergeTree at
// /clickhouse/tables/{shard}/<db>_local/<table>, the servers' macros naming
// shard and replica, and a Distributed table writes each row to one
// replica (internal_replication), which copies it to the others. Without
// a keeper every shard is one server and its data has no copy.
func MigrateCluster(ctx context.Context, dsn, cluster string, ret Retention) ([]string, error) {
	opts, err := options(dsn)
	if err != nil {
		return nil, err
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	conn, err := openAt(ctx, opts, opts.Addr[0], "system") // the databases may not exist yet
	if err != nil {
		return nil, err
	}
	shards, err := clusterShards(ctx, conn, cluster)
	keeper := conn.Exec(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'") == nil
	conn.Close()
	if err != nil {
		return nil, err
	}
	var done []string
	var noTTL error
	for _, replicas := range shards {
		if len(replicas) > 1 && !keeper {
			return done, fmt.Errorf("cluster %s: shard %v has replicas, and replicated tables need a keeper: configure the servers' zookeeper section", cluster, replicas)
		}
		applied, err := migrateShard(ctx, opts, replicas, db, cluster, keeper, ret)
		done = append(done, applied...)
		if e := (*ErrNoTTL)(nil); errors.As(err, &e) {
			noTTL, err = err, nil
		}
		if err != nil {
			return done, fmt.Errorf("shard %v: %w", replicas, err)
		}
	}
	return done, noTTL
}

// clusterShards lists the native addresses of each shard's replicas.
func clusterShards(ctx context.Context, conn driver.Conn, cluster string) ([][]string, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("reading system.clusters: %w", err)
	}
	defer rows.Close()
	var out [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, err
		}
		if len(out) == 0 || shard != last {
			out = append(out, nil)
			last = shard
		}
		out[len(out)-1] = append(out[len(out)-1], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cluster %q in system.clusters: declare it in the servers' remote_servers", cluster)
	}
	return out, nil
}

// migrateShard migrates the local database of one shard's replicas (see
// migrateReplicas) and creates the Distributed tables in db on each. What
// it returns names the server of each step.
func migrateShard(ctx context.Context, opts *ch.Options, replicas []string, db, cluster string, keeper bool, ret Retention) ([]string, error) {
	var locals []driver.Conn
	defer func() {
		for _, c := range locals {
			c.Close()
		}
	}()
	for _, addr := range replicas {
		sys, err := openAt(ctx, opts, addr, "system")
		if err != nil {
			return nil, err
		}
		for _, d := range []string{db, LocalDatabase(db)} {
			if err := sys.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(d)); err != nil {
				sys.Close()
				return nil, fmt.Errorf("create database %s on %s: %w", d, addr, err)
			}
		}
		sys.Close()
		local, err := openAt(ctx, opts, addr, LocalDatabase(db))
		if err != nil {
			return nil, err
		}
		locals = append(locals, local)
	}
	var rewrite func(string) string
	if keeper {
		rewrite = replicated(LocalDatabase(db))
	}
	var applied []string
	done, err := migrateReplicas(ctx, locals, rewrite)
	for i, d := range done {
		for _, a := range d {
			applied = append(applied, replicas[i]+" "+a)
		}
	}
	if err != nil {
		return applied, err
	}
	var noTTL error
	for i, local := range locals {
		if err := distribute(ctx, local, db, cluster); err != nil {
			return applied, fmt.Errorf("%s: %w", replicas[i], err)
		}
		kept, err := ApplyRetention(ctx, local, ret)
		for _, k := range kept {
			applied = append(applied, replicas[i]+" retention "+k)
		}
		if e := (*ErrNoTTL)(nil); errors.As(err, &e) {
			noTTL, err = err, nil
		}
		if err != nil {
			return applied, fmt.Errorf("%s: %w", replicas[i], err)
		}
	}
	return applied, noTTL
}

// distribute creates in db a Distributed table over each table of the
// local database local is connected to.
func distribute(ctx context.Context, local driver.Conn, db, cluster string) error {
	rows, err := local.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View' ORDER BY name", LocalDatabase(db))
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, t := range tables {
		key, ok := shardKeys[t]
		if !ok {
			return fmt.Errorf("table %s has no shard key (clickhouse.shardKeys)", t)
		}
		stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
			quoteIdent(db), quoteIdent(t), quoteIdent(LocalDatabase(db)), quoteIdent(t), quoteIdent(cluster), quoteIdent(LocalDatabase(db)), quoteIdent(t), key)
		if err := local.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("distributed table %s: %w", t, err)
		}
		if err := followColumns(ctx, local, db, t); err != nil {
			return fmt.Errorf("distributed table %s: %w", t, err)
		}
	}
	return nil
}

// followColumns adds to the Distributed table db.t the columns a later
// migration added to its local table: CREATE ... AS copied the columns
// only once.
func followColumns(ctx context.Context, local driver.Conn, db, t string) error {
	rows, err := local.Query(ctx, `SELECT name, type, default_kind, default_expression FROM system.columns
		WHERE database = ? AND table = ? AND name NOT IN (SELECT name FROM system.columns WHERE database = ? AND table = ?)
		ORDER BY name`, LocalDatabase(db), t, db, t)
	if err != nil {
		return err
	}
	var adds []string
	for rows.Next() {
		var name, typ, kind, expr string
		if err := rows.Scan(&name, &typ, &kind, &expr); err != nil {
			rows.Close()
			return err
		}
		add := "ADD COLUMN " + quoteIdent(name) + " " + typ
		if kind != "" {
			add += " " + kind + " " + expr
		}
		adds = append(adds, add)
	}
	rows.Close()
	for _, a := range adds {
		if err := local.Exec(ctx, "ALTER TABLE "+quoteIdent(db)+"."+quoteIdent(t)+" "+a); err != nil {
			return err
		}
	}
	return nil
}

// openAt connects as opts says, to the server at addr and its database.
func openAt(ctx context.Context, opts *ch.Options, addr, database string) (driver.Conn, error) {
	o := *opts
	o.Addr = []string{addr}
	o.Auth.Database = database
	return connect(ctx, &o)
}

// quoteIdent quotes a database, table or cluster name for DDL.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "\\`") + "`"
}
