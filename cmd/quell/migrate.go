package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/quellhq/quell/internal/config"
	"github.com/quellhq/quell/sinks/clickhouse"
)

func migrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell migrate [--config FILE] [--clickhouse DSN] [--cluster NAME]

Creates or upgrades quell's ClickHouse schema (tables, rollups, views) in the
DSN's database, applying only the numbered migrations it lacks, and prints
what it applied. Then it sets each table's retention (TTL) from the config's
clickhouse.retention (default: raw rows 30 days, aggregates 400 days), or
says the server has no TTL (before ClickHouse 19.6). Safe to run again, and
before every upgrade of quell.

With --cluster NAME (a cluster of the server's remote_servers), every shard
gets the schema in the database <db>_local and, in the DSN's database, a
Distributed table over each of its tables, through which quell writes and
the dashboards read. When the servers have a keeper (ZooKeeper, ClickHouse
Keeper), a shard's replicas get replicated tables (Replicated*MergeTree,
named by the servers' {shard} and {replica} macros).

`)
		fs.PrintDefaults()
	}
	cfgPath := fs.String("config", "", "quell's YAML config: its clickhouse.dsn and clickhouse.retention")
	cluster := fs.String("cluster", "", "a cluster the server declares (remote_servers): migrate every shard and replica, reached through Distributed tables")
	dsn := fs.String("clickhouse", os.Getenv("QUELL_CLICKHOUSE_DSN"), "native DSN of the database, e.g. clickhouse://127.0.0.1:9000/default (default $QUELL_CLICKHOUSE_DSN, else the config's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *dsn == "" {
		*dsn = cfg.ClickHouse.DSN
	}
	if *dsn == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("migrate needs --clickhouse DSN (or a config with clickhouse.dsn) and no other arguments")
	}
	if *cluster != "" {
		applied, err := clickhouse.MigrateCluster(ctx, *dsn, *cluster, cfg.ClickHouse.Retention)
		for _, m := range applied {
			fmt.Println("applied", m)
		}
		if noTTL := (*clickhouse.ErrNoTTL)(nil); errors.As(err, &noTTL) {
			fmt.Println("retention unsupported:", noTTL)
			return nil
		}
		if err != nil {
			return fmt.Errorf("migrate cluster %s: %w (fix the cause and run it again: applied migrations are skipped)", *cluster, err)
		}
		return nil
	}
	conn, err := clickhouse.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := clickhouse.MigrateReport(ctx, conn)
	for _, m := range applied {
		fmt.Println("applied", m)
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w (fix the cause and run it again: applied migrations are skipped)", *dsn, err)
	}
	if len(applied) == 0 {
		fmt.Println("schema is current: nothing to apply")
	}
	missing, err := clickhouse.Unavailable(ctx, conn)
	if err != nil {
		return err
	}
	for _, m := range missing {
		fmt.Println("skipped", m)
	}
	kept, err := clickhouse.ApplyRetention(ctx, conn, cfg.ClickHouse.Retention)
	if noTTL := (*clickhouse.ErrNoTTL)(nil); errors.As(err, &noTTL) {
		fmt.Println("retention unsupported:", noTTL)
		return nil
	}
	for _, k := range kept {
		fmt.Println("retention", k)
	}
	return err
}
