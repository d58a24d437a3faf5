package main

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// storage is a database of its own on a ClickHouse server, for one started
// quell to write to and for the run to count what it stored.
type storage struct {
	dsn   string
	admin driver.Conn
	name  string
}

// newStorage creates a fresh database on the server of dsn and migrates it
// with bin (quell migrate).
func newStorage(bin, dsn string) (*storage, error) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse %s: %w", dsn, err)
	}
	admin, err := ch.Open(opts)
	if err != nil {
		return nil, err
	}
	s := &storage{admin: admin, name: fmt.Sprintf("quell_load_%d", time.Now().UnixNano())}
	if err := admin.Exec(context.Background(), "CREATE DATABASE "+s.name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("creating the run's database: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + s.name
	s.dsn = u.String()
	if out, err := exec.Command(bin, "migrate", "--clickhouse", s.dsn).CombinedOutput(); err != nil {
		s.drop()
		return nil, fmt.Errorf("quell migrate: %v\n%s", err, out)
	}
	return s, nil
}

// report says how many rows quell stored in its raw tables for the
// occurrences the noise panels count (alerts_hourly, exact).
func (s *storage) report() string {
	ctx := context.Background()
	var rows, occurrences uint64
	for _, t := range []string{"alerts", "decisions"} {
		var n uint64
		if err := s.admin.QueryRow(ctx, "SELECT count() FROM "+s.name+"."+t).Scan(&n); err != nil {
			return "counting rows: " + err.Error()
		}
		rows += n
	}
	if err := s.admin.QueryRow(ctx, "SELECT toUInt64(uniqExactMerge(occurrences)) FROM "+s.name+".alerts_hourly").Scan(&occurrences); err != nil {
		return "counting occurrences: " + err.Error()
	}
	return fmt.Sprintf("ClickHouse: %d rows in alerts and decisions for %d occurrences counted in alerts_hourly (%.1f%%)",
		rows, occurrences, 100*float64(rows)/float64(max(occurrences, 1)))
}

// drop deletes the database; once dropped, drop does nothing.
func (s *storage) drop() {
	if s.admin == nil {
		return
	}
	s.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.name)
	s.admin.Close()
	s.admin = nil
}
