// Command clickhouse measures quell's ClickHouse side on a real server: rows
// per second the sink inserts, and the latency of every dashboard query, at
// about a million alerts.
//
//	go run ./bench/clickhouse --clickhouse clickhouse://127.0.0.1:9000/default
//
// The data is the MicroSS fault-alert stream replayed once through the
// correlator (as the tests do), then repeated with times shifted by the
// stream's span and incident ids tagged, until --alerts decisions: real
// label sets, payloads and incident shapes, new occurrences each copy.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell/sinks"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

func main() {
	dsn := flag.String("clickhouse", "", "native DSN of a ClickHouse server (the bench creates and drops its own database)")
	n := flag.Int("alerts", 1_000_000, "decisions (alert occurrences) to write")
	runs := flag.Int("runs", 5, "runs of each dashboard query")
	keep := flag.Bool("keep", false, "keep the bench database afterwards")
	flag.Parse()
	if *dsn == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(context.Background(), *dsn, *n, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench/clickhouse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn string, n, runs int, keep bool) error {
	base, err := chtest.MicroSS()
	if err != nil {
		return err
	}
	db := fmt.Sprintf("quell_bench_%d", time.Now().Unix())
	dbDSN, drop, err := createDB(ctx, dsn, db)
	if err != nil {
		return err
	}
	if !keep {
		defer drop()
	}
	conn, err := clickhouse.Open(ctx, dbDSN)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := clickhouse.Migrate(ctx, conn); err != nil {
		return err
	}

	// Copies are made before the clock starts: the bench times the sink.
	from, to := chtest.Range(base)
	span := to.Sub(from).Truncate(time.Hour) + time.Hour
	var copies []sinks.Batch
	decisions := 0
	for i := 0; decisions < n; i++ {
		c := chtest.Shift(base, time.Duration(i)*span, fmt.Sprintf("-%d", i))
		copies = append(copies, c)
		decisions += len(c.Decisions)
	}
	end := to.Add(time.Duration(len(copies)) * span)

	reg := prometheus.NewRegistry()
	dead := sinks.NewDeadLetters(os.TempDir())
	cfg := clickhouse.DefaultSinkConfig()
	s, err := clickhouse.NewSink(ctx, conn, cfg, dead, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		return err
	}
	fmt.Printf("writing %d decisions (%d copies of MicroSS, %d each) in database %s, batch_size %d\n", decisions, len(copies), len(base.Decisions), db, cfg.BatchSize)
	start := time.Now()
	for _, c := range copies {
		if err := s.Write(ctx, c); err != nil {
			return err
		}
	}
	if err := s.Close(ctx); err != nil {
		return err
	}
	took := time.Since(start)
	rows, err := rowsWritten(reg)
	if err != nil {
		return err
	}
	total := 0.0
	for _, t := range slices.Sorted(maps.Keys(rows)) {
		fmt.Printf("  %-20s %10.0f rows\n", t, rows[t])
		total += rows[t]
	}
	fmt.Printf("inserted %.0f rows in %s: %.0f rows/s, %.0f decisions/s\n", total, took.Round(time.Millisecond), total/took.Seconds(), float64(decisions)/took.Seconds())

	an := clickhouse.NewAnalytics(conn)
	fmt.Printf("\ndashboard queries over all %d alerts (%d runs each):\n", decisions, runs)
	fmt.Printf("  %-22s %8s %8s %6s\n", "query", "median", "max", "rows")
	for _, qt := range clickhouse.QueryTypes() {
		var lat []time.Duration
		var got int
		for range runs {
			t0 := time.Now()
			tab, err := an.Run(ctx, clickhouse.Query{Type: qt, From: from, To: end, Limit: 20})
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(t0))
			got = tab.Rows
		}
		slices.Sort(lat)
		fmt.Printf("  %-22s %8s %8s %6d\n", qt, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), got)
	}
	return nil
}

// createDB makes the bench's database; drop removes it.
func createDB(ctx context.Context, dsn, db string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("DSN %q: %w", dsn, err)
	}
	admin, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		return "", nil, err
	}
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create bench database: %w", err)
	}
	drop := func() {
		if err := admin.Exec(ctx, "DROP DATABASE "+db); err != nil {
			fmt.Fprintf(os.Stderr, "bench/clickhouse: drop database %s: %v\n", db, err)
		}
		admin.Close()
	}
	u.Path = "/" + db
	return u.String(), drop, nil
}

// rowsWritten reads the sink's rows-written counter by table.
func rowsWritten(g prometheus.Gatherer) (map[string]float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "quell_clickhouse_rows_written_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out, nil
}
