// Command load measures how many alerts a running quell serve ingests over
// HTTP: it posts Alertmanager webhook messages of --batch alerts each to
// /webhooks/alertmanager from --concurrency keep-alive connections and prints
// alerts/s, requests/s, latency and errors. With --alertmanager it then posts
// the same batches, as v2 postable alerts, to a real Alertmanager's
// /api/v2/alerts, and prints the ratio.
//
//	go run ./bench/load --target http://127.0.0.1:9095 [--alertmanager http://127.0.0.1:9093] --duration 10s --concurrency 8 --batch 100
//
// With --quell BIN it starts quell itself instead, once per journal.sync
// setting in --sync, each on a fresh data dir, and measures each in turn:
//
//	go run ./bench/load --quell bin/quell --sync batch,interval,none --alertmanager http://127.0.0.1:9093
//
// --crash then kills each started quell with SIGKILL at the end of its load
// and reports how long the restart took to be ready again. --clickhouse DSN
// gives each started quell a fresh database on that server to write to and
// reports, once it stopped, the rows it stored for the occurrences counted.
// Every started quell's peak resident memory is printed.
//
// The generator runs on the same machine as its target unless you move it:
// its CPU use is then part of what bounds the figures.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	url := flag.String("target", "http://127.0.0.1:9095", "base URL of a running quell serve")
	am := flag.String("alertmanager", "", "base URL of a running Alertmanager to compare with (optional)")
	dur := flag.Duration("duration", 10*time.Second, "how long each target is measured")
	warmup := flag.Duration("warmup", 2*time.Second, "load before measuring, not counted (fills quell's queue, so the measure is sustained)")
	conc := flag.Int("concurrency", 8, "requests in flight (one keep-alive connection each)")
	batch := flag.Int("batch", 100, "alerts per request")
	distinct := flag.Int("distinct", 10000, "distinct alerts (label sets); the batches cycle through them, so repeats are deduplicated")
	churn := flag.Float64("churn", 0.05, "fraction of alerts sent resolved; they fire again on a later pass")
	bin := flag.String("quell", "", "a quell binary to start once per --sync setting, instead of --target")
	crash := flag.Bool("crash", false, "with --quell: kill each quell with SIGKILL in the last half second of its load, restart it on the same data dir, and report how long it took to be ready")
	syncs := flag.String("sync", "batch,interval,none", "with --quell: the journal.sync settings to measure, comma-separated")
	chDSN := flag.String("clickhouse", "", "with --quell: a ClickHouse server's DSN; each started quell writes to a fresh database there")
	flag.Parse()
	targets := []target{{name: "quell", url: strings.TrimSuffix(*url, "/")}}
	if *bin != "" {
		targets = nil
		for _, s := range strings.Split(*syncs, ",") {
			targets = append(targets, target{name: "quell " + s, sync: s, bin: *bin, clickhouse: *chDSN})
		}
	}
	if err := loadTest(targets, *am, *dur, *warmup, *conc, *batch, *distinct, *churn, *crash); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// target is a quell to measure: at url, or started from bin with
// journal.sync set to sync.
type target struct {
	name, url  string
	sync, bin  string
	clickhouse string // a server for it to write to, when set
}

func loadTest(targets []target, am string, dur, warmup time.Duration, conc, batch, distinct int, churn float64, crash bool) error {
	switch {
	case conc < 1 || batch < 1 || distinct < 1 || dur <= 0 || warmup < 0:
		return fmt.Errorf("--concurrency, --batch, --distinct and --duration must be positive, --warmup not negative")
	case churn < 0 || churn > 1:
		return fmt.Errorf("--churn is %v: want a fraction between 0 and 1", churn)
	}
	// Enough batches to pass over every distinct alert twice, encoded before
	// the clock starts so that the generator spends its CPU on sending;
	// beyond maxPool (a cardinality storm) each is encoded as it is sent.
	n := max(64, 2*((distinct+batch-1)/batch))
	pool := batches{n: n, size: batch, distinct: distinct, churn: churn, start: time.Now().UTC().Truncate(time.Second)}
	if n <= maxPool {
		var err error
		if pool.built, err = build(n, batch, distinct, churn, pool.start); err != nil {
			return err
		}
	}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conc, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc,
			IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		},
	}
	am = strings.TrimSuffix(am, "/")
	var phases []phase
	for _, t := range targets {
		phases = append(phases, phase{name: t.name, target: t, body: func(b *bodies) []byte { return b.webhook }})
	}
	if am != "" {
		if err := ready(client, am+"/-/ready", "alertmanager"); err != nil {
			return err
		}
		phases = append(phases, phase{name: "alertmanager", target: target{url: am}, path: "/api/v2/alerts", body: func(b *bodies) []byte { return b.v2 }})
	}
	fmt.Printf("batch %d alerts, concurrency %d, %s measured after %s warm-up, %d distinct alerts, churn %.0f%%, %d batches cycled\n",
		batch, conc, dur, warmup, distinct, churn*100, n)
	fmt.Printf("the generator shares this machine with its target: %d CPUs, GOMAXPROCS %d\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	// One target at a time: measured side by side they would share the CPUs.
	var results []result
	var notes []string
	for _, p := range phases {
		p.concurrency, p.warmup, p.dur = conc, warmup, dur
		var q *quell
		var store *storage
		if p.target.bin != "" {
			var err error
			dsn := ""
			if p.target.clickhouse != "" {
				if store, err = newStorage(p.target.bin, p.target.clickhouse); err != nil {
					return err
				}
				defer store.drop()
				dsn = store.dsn
			}
			if q, err = startQuell(p.target.bin, p.target.sync, dsn); err != nil {
				return err
			}
			p.target.url = q.url()
		} else if p.path == "" {
			if err := ready(client, p.target.url+"/healthz", "quell serve"); err != nil {
				return err
			}
		}
		if p.path == "" {
			p.path = "/webhooks/alertmanager"
		}
		p.url = p.target.url + p.path
		if q != nil && crash {
			// kill -9 in the last moments of the load, then time the restart.
			time.AfterFunc(p.warmup+p.dur-500*time.Millisecond, q.kill)
		}
		r, err := run(client, p, pool)
		if q != nil && crash {
			took, serr := q.start()
			if serr != nil {
				err = errors.Join(err, serr)
			}
			notes = append(notes, fmt.Sprintf("%s: killed with SIGKILL under load, ready again after %s (%s), peak RSS %s",
				p.name, took.Round(time.Millisecond), q.restarted(), q.peakRSS()))
		}
		if q != nil {
			notes = append(notes, fmt.Sprintf("%s: peak RSS %s", p.name, q.peakRSS()))
			q.stop()
		}
		if store != nil {
			notes = append(notes, p.name+": "+store.report())
			// Its merges would otherwise go on through the next phase.
			store.drop()
		}
		if err != nil && !crash {
			return err
		}
		results = append(results, r)
	}
	defer func() {
		for _, s := range notes {
			fmt.Println(s)
		}
	}()
	fmt.Printf("%-16s %9s %10s %11s %9s %9s  %s\n", "target", "requests", "req/s", "alerts/s", "p50", "p99", "errors")
	for _, r := range results {
		fmt.Printf("%-16s %9d %10.0f %11.0f %9s %9s  %s\n", r.name, r.requests, float64(r.requests)/r.elapsed.Seconds(),
			r.alertsPerSec(), r.quantile(0.50).Round(10*time.Microsecond), r.quantile(0.99).Round(10*time.Microsecond), r.errorSummary())
	}
	if last := results[len(results)-1]; am != "" && last.alerts > 0 {
		for _, r := range results[:len(results)-1] {
			fmt.Printf("%s/alertmanager alerts/s: %.1f×\n", r.name, r.alertsPerSec()/last.alertsPerSec())
		}
	}
	return nil
}

// ready fails early, and says what to start, when a target does not answer.
func ready(client *http.Client, url, what string) error {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("%s is not reachable (%v): start it, or point the flag at it", what, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s to GET %s: it is not ready", what, resp.Status, url)
	}
	return nil
}
