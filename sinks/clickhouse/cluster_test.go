package clickhouse_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/clickhouse/chtest"
)

// rows is a result as sorted lines: shards answer in their own order.
func rows(tab *clickhouse.Table) []string {
	out := make([]string, tab.Rows)
	for _, col := range tab.Values {
		switch v := col.(type) {
		case []time.Time:
			for i := range v {
				out[i] += v[i].String() + "|"
			}
		case []string:
			for i := range v {
				out[i] += v[i] + "|"
			}
		case []float64:
			for i := range v {
				out[i] += fmt.Sprintf("%.6g|", v[i])
			}
		case []uint64:
			for i := range v {
				out[i] += fmt.Sprint(v[i]) + "|"
			}
		case []*float64:
			for i := range v {
				if v[i] == nil {
					out[i] += "null|"
				} else {
					out[i] += fmt.Sprintf("%.6g|", *v[i])
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func countIn(t *testing.T, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCluster migrates a cluster of two shards (two local servers),
// writes the MicroSS replay through the sink into the Distributed tables,
// and checks that rows landed on both shards and that every analytic the
// dashboards run sees all of them: the same results as one server holding
// the same replay.
func TestCluster(t *testing.T) {
	servers := testenv.ClickHouseCluster(t, "quell_test", 2, 1)
	ctx := context.Background()
	dsn := strings.TrimSuffix(servers[0].DSN, "/default") + "/quell"
	applied, err := clickhouse.MigrateCluster(ctx, dsn, "quell_test", clickhouse.DefaultRetention())
	if noTTL := (*clickhouse.ErrNoTTL)(nil); err != nil && !errors.As(err, &noTTL) {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(applied, func(l string) bool { return strings.HasSuffix(l, " 0001_initial") }) {
		t.Fatalf("applied %v, want 0001_initial on each shard", applied)
	}
	// A later migration that adds a column to a local table: the next run
	// adds it to the Distributed table too, or inserts through it fail.
	for _, s := range servers {
		if err := localDB(t, s, "quell").Exec(ctx, "ALTER TABLE decisions ADD COLUMN later String DEFAULT 'x'"); err != nil {
			t.Fatal(err)
		}
	}
	again, err := clickhouse.MigrateCluster(ctx, dsn, "quell_test", clickhouse.DefaultRetention())
	if slices.ContainsFunc(again, func(l string) bool { return strings.Contains(l, " 000") }) {
		t.Fatalf("a second run applied %v, want no migration", again)
	}
	conn, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if n := countIn(t, conn, "SELECT count() FROM system.columns WHERE database = 'quell' AND table = 'decisions' AND name = 'later'"); n != 1 {
		t.Fatalf("the Distributed decisions table has %d columns named later after the migration, want 1", n)
	}
	from, to := chtest.FillMicroSS(t, conn)
	single, _ := chtest.DB(t)
	chtest.FillMicroSS(t, single)

	// Distributed inserts reach the shards in the background.
	want := countIn(t, single, "SELECT count() FROM decisions")
	waitCount(t, conn, "SELECT count() FROM decisions", want)
	for i, s := range servers {
		shard := localDB(t, s, "quell")
		n := countIn(t, shard, "SELECT count() FROM decisions")
		if n == 0 || n == want {
			t.Errorf("shard %d holds %d of %d decisions, want a share", i+1, n, want)
		}
	}
	time.Sleep(time.Second) // the rollups' and incidents' rows too
	sameAnalytics(t, conn, single, from, to)
}

// TestClusterReplicated migrates a cluster of one shard with two replicas
// (two local servers and a ZooKeeper): the tables are replicated, rows
// written through the Distributed tables of one server reach both
// replicas, rollups included, and the other server's Distributed tables
// answer every analytic as one server holding the same replay.
func TestClusterReplicated(t *testing.T) {
	servers := testenv.ClickHouseCluster(t, "quell_test", 1, 2)
	ctx := context.Background()
	// The keeper outlives the servers: a database of its own gives this
	// run's tables keeper paths of their own.
	db := fmt.Sprintf("quell%d", time.Now().UnixNano())
	dsn := func(s *testenv.ClickHouseServer) string { return strings.TrimSuffix(s.DSN, "/default") + "/" + db }
	applied, err := clickhouse.MigrateCluster(ctx, dsn(servers[0]), "quell_test", clickhouse.DefaultRetention())
	if noTTL := (*clickhouse.ErrNoTTL)(nil); err != nil && !errors.As(err, &noTTL) {
		t.Fatal(err)
	}
	for _, s := range servers {
		if !slices.ContainsFunc(applied, func(l string) bool {
			return strings.HasSuffix(l, " 0002_analytics") && strings.Contains(s.DSN, strings.Fields(l)[0])
		}) {
			t.Fatalf("applied %v, want 0002_analytics on each replica", applied)
		}
	}
	again, _ := clickhouse.MigrateCluster(ctx, dsn(servers[1]), "quell_test", clickhouse.DefaultRetention())
	if slices.ContainsFunc(again, func(l string) bool { return strings.Contains(l, " 000") }) {
		t.Fatalf("a second run applied %v, want no migration", again)
	}
	writer, err := clickhouse.Open(ctx, dsn(servers[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	from, to := chtest.FillMicroSS(t, writer)
	single, _ := chtest.DB(t)
	chtest.FillMicroSS(t, single)

	for i, s := range servers {
		local := localDB(t, s, db)
		var engine string
		if err := local.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'decisions'").Scan(&engine); err != nil || !strings.HasPrefix(engine, "Replicated") {
			t.Fatalf("replica %d: decisions is %q (%v), want a Replicated engine", i+1, engine, err)
		}
		for _, table := range []string{"decisions", "alerts", "decisions_hourly", "incidents"} {
			waitCount(t, local, "SELECT count() FROM "+table, countIn(t, single, "SELECT count() FROM "+table))
		}
	}
	reader, err := clickhouse.Open(ctx, dsn(servers[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	sameAnalytics(t, reader, single, from, to)
}

// localDB connects to a cluster server's local database of db.
func localDB(t *testing.T, s *testenv.ClickHouseServer, db string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(context.Background(), strings.TrimSuffix(s.DSN, "/default")+"/"+clickhouse.LocalDatabase(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitCount waits up to 30 s for query to count want: rows reach shards
// and replicas in the background.
func waitCount(t *testing.T, conn driver.Conn, query string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := countIn(t, conn, query); n != want; n = countIn(t, conn, query) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d after 30s, want %d", query, n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameAnalytics runs every analytic on conn and on single, one server
// holding the same rows, and compares the answers.
func sameAnalytics(t *testing.T, conn, single driver.Conn, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, qt := range clickhouse.QueryTypes() {
		q := clickhouse.Query{Type: qt, From: from, To: to, Interval: time.Hour, Limit: 1000}
		got, err := clickhouse.NewAnalytics(conn).Run(ctx, q)
		if err != nil {
			t.Fatalf("%s on the cluster: %v", qt, err)
		}
		ref, err := clickhouse.NewAnalytics(single).Run(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if g, r := rows(got), rows(ref); !slices.Equal(g, r) {
			t.Errorf("%s: the cluster answers %d rows, one server %d; first: %.3v vs %.3v", qt, len(g), len(r), g, r)
		}
	}
}
