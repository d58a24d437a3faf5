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
// remote_servers). Each shard gets the schema Migrate creates, unchanged,
// in LocalDatabase(db), and in db a Distributed table over each of its
// tables: quell writes and the dashboards read through those, as they do
// a single server's tables. It returns what it applied, per shard. The
// retention is then set on every shard's tables (see ApplyRetention,
// whose *ErrNoTTL it returns on servers without TTL).
//
// Without a keeper (ZooKeeper or ClickHouse Keeper) there is no ON CLUSTER
// DDL and no replication: every shard is migrated directly, and a shard's
// data has no copy. A server with a keeper is refused for now.
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
	shards, err := clusterHosts(ctx, conn, cluster)
	keeper := conn.Exec(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'") == nil
	conn.Close()
	if err != nil {
		return nil, err
	}
	if keeper {
		return nil, fmt.Errorf("cluster %s: the server has a keeper; quell migrate --cluster creates unreplicated shards only, and refuses to leave replicas unused: migrate each replica's database without --cluster", cluster)
	}
	var done []string
	var noTTL error
	for _, addr := range shards {
		applied, err := migrateShard(ctx, opts, addr, db, cluster, ret)
		for _, a := range applied {
			done = append(done, addr+" "+a)
		}
		if e := (*ErrNoTTL)(nil); errors.As(err, &e) {
			noTTL, err = err, nil
		}
		if err != nil {
			return done, fmt.Errorf("shard %s: %w", addr, err)
		}
	}
	return done, noTTL
}

// clusterHosts lists the shards' native addresses.
func clusterHosts(ctx context.Context, conn driver.Conn, cluster string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("reading system.clusters: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		out = append(out, net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cluster %q in system.clusters: declare it in the servers' remote_servers", cluster)
	}
	return out, nil
}

// migrateShard migrates one shard's local database and creates the
// Distributed tables in db over it.
func migrateShard(ctx context.Context, opts *ch.Options, addr, db, cluster string, ret Retention) ([]string, error) {
	sys, err := openAt(ctx, opts, addr, "system")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{db, LocalDatabase(db)} {
		if err := sys.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(d)); err != nil {
			sys.Close()
			return nil, fmt.Errorf("create database %s: %w", d, err)
		}
	}
	sys.Close()
	local, err := openAt(ctx, opts, addr, LocalDatabase(db))
	if err != nil {
		return nil, err
	}
	defer local.Close()
	applied, err := MigrateReport(ctx, local)
	if err != nil {
		return applied, err
	}
	rows, err := local.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View' ORDER BY name", LocalDatabase(db))
	if err != nil {
		return applied, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return applied, err
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, t := range tables {
		key, ok := shardKeys[t]
		if !ok {
			return applied, fmt.Errorf("table %s has no shard key (clickhouse.shardKeys)", t)
		}
		stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
			quoteIdent(db), quoteIdent(t), quoteIdent(LocalDatabase(db)), quoteIdent(t), quoteIdent(cluster), quoteIdent(LocalDatabase(db)), quoteIdent(t), key)
		if err := local.Exec(ctx, stmt); err != nil {
			return applied, fmt.Errorf("distributed table %s: %w", t, err)
		}
	}
	kept, err := ApplyRetention(ctx, local, ret)
	for _, k := range kept {
		applied = append(applied, "retention "+k)
	}
	return applied, err
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
