package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/quellhq/quell/sinks/clickhouse"
)

func migrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell migrate --clickhouse DSN

Creates or upgrades quell's ClickHouse schema (tables, rollups, views) in the
DSN's database, applying only the numbered migrations it lacks, and prints
what it applied. Safe to run again, and before every upgrade of quell.

`)
		fs.PrintDefaults()
	}
	dsn := fs.String("clickhouse", os.Getenv("QUELL_CLICKHOUSE_DSN"), "native DSN of the database, e.g. clickhouse://127.0.0.1:9000/default (default $QUELL_CLICKHOUSE_DSN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("migrate needs --clickhouse DSN and no other arguments")
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
	return nil
}
