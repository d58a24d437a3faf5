package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks/clickhouse"
)

// TestClickHouseOutage: ClickHouse stops for 10 s or more while four senders post
// alerts with a 4 KiB annotation to quell (memory_limit 128MiB). quell holds what it can within
// its bounds, then answers 503 (the senders retry); once ClickHouse is
// back every alert it acknowledged arrives, and its resident memory stayed
// under the budget throughout.
func TestClickHouseOutage(t *testing.T) {
	srv := testenv.OwnClickHouse(t)
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`memory_limit: 128MiB
clickhouse:
  dsn: %s
  batch_age: 200ms
correlate:
  group_wait: 1s
ingest:
  rate_per_client: 0
`, srv.DSN))
	if out, err := exec.Command(e.bin, "migrate", "--clickhouse", srv.DSN).CombinedOutput(); err != nil {
		t.Fatalf("quell migrate: %v\n%s", err, out)
	}
	p := e.start(t)
	p.wantCleanExit = true
	// Requests refused at a bound: the bus's (the sink no longer takes
	// batches) or the memory budget's (what waits for ClickHouse fills it),
	// whichever the load reaches first.
	bounded := func() float64 {
		return metricSum(t, e.url(""), "quell_ingest_requests_rejected_total", `reason="publish_failed"`) +
			metricSum(t, e.url(""), "quell_ingest_requests_rejected_total", `reason="memory"`)
	}
	load := startLoadPadded(t, e.url(ingest.PathAlertsV2), 4<<10)
	load.waitAcked(t, 5000)
	srv.Stop(t)
	down, refused := load.acked(), bounded()
	// Down for 10 s, and longer until the load meets a bound (at most 30
	// s): what waits for the bus is refused only after its wait, and a
	// busy machine gets there later.
	for start := time.Now(); time.Since(start) < 10*time.Second || bounded() == refused && time.Since(start) < 30*time.Second; {
		time.Sleep(200 * time.Millisecond)
	}
	during, refusedDuring := load.acked()-down, bounded()-refused
	srv.Start(t)
	load.waitAcked(t, load.acked()+5000)
	load.stop()
	load.mu.Lock()
	acked := append([]string(nil), load.uids...)
	load.mu.Unlock()
	t.Logf("%d alerts acknowledged, %d while ClickHouse was down; %d requests refused and retried, %.0f at a bound while it was down",
		len(acked), during, load.fails.Load(), refusedDuring)

	conn, err := clickhouse.Open(context.Background(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually(t, p, "every acknowledged alert in ClickHouse", func() (bool, string) {
		have, err := storedUIDs(conn)
		if err != nil {
			return false, err.Error()
		}
		missing := 0
		for _, uid := range acked {
			if !have[uid] {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d acknowledged alerts not in ClickHouse", missing, len(acked))
	})
	if hwm := peakRSS(t, p); hwm > 128<<20 {
		t.Errorf("peak RSS %d MiB, over the 128 MiB budget", hwm>>20)
	} else {
		t.Logf("peak RSS %d MiB of the 128 MiB budget", hwm>>20)
	}
	if refusedDuring == 0 {
		t.Errorf("no request was refused while ClickHouse was down: the outage did not reach the bounds")
	}
}

// storedUIDs is the uid annotation of every alert row in ClickHouse.
func storedUIDs(conn driver.Conn) (map[string]bool, error) {
	rows, err := conn.Query(context.Background(), `SELECT DISTINCT annotation_values[indexOf(annotation_keys, 'uid')] FROM alerts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return nil, err
		}
		have[uid] = true
	}
	return have, rows.Err()
}
