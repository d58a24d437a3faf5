// Command kafka benchmarks split mode on a real broker: it starts
// 'quell ingest' and 'quell correlate' (or uses running ones), drives the
// ingest webhook, and reads the decisions topic.
//
// Phase 1 posts as fast as it can for -duration and prints the alerts/s
// that ingest acknowledged (the broker holds them). Phase 2, once the
// correlator caught up, posts at -rate for -duration and prints the
// latency from webhook accept (Alert.ReceivedAt) to the decision's publish
// time (its Kafka record timestamp), p50 and p99, and the same beyond the
// configured correlate.group_wait, which holds every decision that long.
//
//	go build -o /tmp/quell ./cmd/quell
//	go run ./bench/kafka --quell /tmp/quell --kafka 127.0.0.1:9092
//
// With -sustained it runs split mode under a sustained load with a crash
// instead (see sustained.go):
//
//	go run ./bench/kafka --quell /tmp/quell --sustained --duration 45s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func main() {
	var (
		broker     = flag.String("kafka", "127.0.0.1:9092", "Kafka bootstrap broker")
		bin        = flag.String("quell", "", "quell binary to start ingest and correlate with (go build -o /tmp/quell ./cmd/quell)")
		ingestURL  = flag.String("ingest", "", "use a running ingest at this base URL instead (with -prefix)")
		prefix     = flag.String("prefix", "", "topic prefix of a running deployment (default: a fresh one)")
		duration   = flag.Duration("duration", 10*time.Second, "length of each phase")
		workers    = flag.Int("workers", 16, "concurrent HTTP requests")
		batch      = flag.Int("batch", 100, "alerts per request")
		pool       = flag.Int("alerts", 20000, "distinct alerts (repeats are deduplicated occurrences)")
		scopes     = flag.Int("scopes", 200, "distinct clusters (correlation scopes)")
		rate       = flag.Int("rate", 5000, "alerts/s in the latency phase")
		groupWait  = flag.Duration("group-wait", time.Second, "correlate.group_wait of the started correlator")
		partitions = flag.Int("partitions", 6, "partitions of the topics")
		snapEvery  = flag.Duration("snapshot-every", 2*time.Second, "kafka.snapshot_every of the started correlator")
		sustain    = flag.Bool("sustained", false, "instead: distinct alerts for -duration from -senders, the correlator killed at -kill-at (see sustained.go)")
		senders    = flag.Int("senders", 4, "concurrent senders of -sustained")
		clusters   = flag.Int("clusters", 0, "-sustained spreads its alerts over this many clusters (correlation scopes; 0: no cluster label, one scope)")
		killAt     = flag.Duration("kill-at", 20*time.Second, "when -sustained kills the correlator")
		drain      = flag.Duration("drain", 2*time.Minute, "how long -sustained waits for every acknowledged alert's decision")
		pprof      = flag.String("pprof", "", "serve the profiler of the -sustained correlator (before the kill) and of quell serve on this address")
		memLimit   = flag.Int64("memory-limit", 0, "memory_limit in bytes of every -sustained process (0: quell's default)")
		embedded   = flag.Bool("embedded", true, "-sustained also runs quell serve on the same load, for comparison")
	)
	flag.Parse()
	if *sustain {
		if *bin == "" {
			log.Fatal("-sustained needs -quell BINARY")
		}
		sustained(*bin, *broker, *partitions, *senders, *batch, *clusters, *duration, *killAt, *drain, *snapEvery, *memLimit, *pprof, *embedded)
		return
	}
	if *prefix == "" {
		*prefix = fmt.Sprintf("bench%d", time.Now().Unix())
	}
	if *ingestURL == "" {
		if *bin == "" {
			log.Fatal("give -quell BINARY to start the stages, or -ingest URL and -prefix of running ones")
		}
		stop := startStages(*bin, *broker, *prefix, *groupWait, *partitions, *snapEvery)
		defer stop()
		*ingestURL = waitListen(stop)
	}
	bodies := makeBodies(*pool, *scopes, *batch)
	dec := newDecisionReader(*broker, *prefix+".decisions", *partitions)
	defer dec.close()

	fmt.Printf("phase 1: %d workers posting %d alerts a request for %s (%d distinct alerts, %d scopes)\n", *workers, *batch, *duration, *pool, *scopes)
	n, fails, took := drive(*ingestURL, bodies, *workers, *duration, 0, "1")
	fmt.Printf("ingest → kafka: %d alerts acknowledged in %s: %.0f alerts/s (%d requests failed)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), fails)
	start := time.Now()
	dec.waitCount(n, 5*time.Minute)
	fmt.Printf("correlator caught up with phase 1 after %s more\n", time.Since(start).Round(time.Millisecond))

	fmt.Printf("phase 2: %d alerts/s for %s\n", *rate, *duration)
	n2, fails2, _ := drive(*ingestURL, bodies, *workers, *duration, *rate, "2")
	dec.waitCount(n+n2, time.Minute)
	lat := dec.latencies("2")
	if len(lat) == 0 {
		log.Fatal("no decisions of phase 2 were read")
	}
	// Decisions of an incident younger than group_wait are held that long by
	// design; the others leave at once.
	var held, direct []time.Duration
	for _, l := range lat {
		if l >= *groupWait {
			held = append(held, l-*groupWait)
		} else {
			direct = append(direct, l)
		}
	}
	fmt.Printf("webhook accept → decision published, %d decisions of phase 2 (%d requests failed):\n", len(lat), fails2)
	report("  all", lat)
	report("  held for group_wait, time beyond it", held)
	report("  not held", direct)
}

func report(what string, ds []time.Duration) {
	if len(ds) == 0 {
		fmt.Printf("%s: none\n", what)
		return
	}
	slices.Sort(ds)
	p := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))].Round(time.Millisecond) }
	fmt.Printf("%s: %d, p50 %s p99 %s max %s\n", what, len(ds), p(0.5), p(0.99), ds[len(ds)-1].Round(time.Millisecond))
}

// launch starts one stage of split mode, logging to dir/<stage>.log
// (appended to, so that a restarted stage keeps one log).
func launch(bin, dir, cfg, broker, stage string, extra ...string) *exec.Cmd {
	args := []string{stage, "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, stage)}
	if broker != "" {
		args = append(args, "--kafka", broker)
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	f, err := os.OpenFile(filepath.Join(dir, stage+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	// The stages end with the benchmark, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return cmd
}

// startStages runs quell ingest and quell correlate on a fresh prefix.
func startStages(bin, broker, prefix string, groupWait time.Duration, partitions int, snapEvery time.Duration) func() {
	dir, err := os.MkdirTemp("", "quell-bench")
	if err != nil {
		log.Fatal(err)
	}
	cfg := filepath.Join(dir, "quell.yaml")
	// One client sends everything: the per-client rate limit would measure itself.
	yaml := fmt.Sprintf("ingest:\n  rate_per_client: 0\ncorrelate:\n  group_wait: %s\nkafka:\n  prefix: %s\n  partitions: %d\n  snapshot_every: %s\n", groupWait, prefix, partitions, snapEvery)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		log.Fatal(err)
	}
	var procs []*exec.Cmd
	for _, stage := range []string{"correlate", "ingest"} {
		procs = append(procs, launch(bin, dir, cfg, broker, stage))
	}
	fmt.Printf("started quell correlate and ingest, logs in %s\n", dir)
	ingestLog = filepath.Join(dir, "ingest.log")
	return func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
			p.Wait()
		}
	}
}

var (
	ingestLog string
	listenRE  = regexp.MustCompile(`msg="quell serving" listen=(\S+)`)
)

func waitListen(stop func()) string {
	for range 600 {
		b, _ := os.ReadFile(ingestLog)
		if m := listenRE.FindSubmatch(b); m != nil {
			return "http://" + string(m[1])
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	log.Fatalf("quell ingest did not start; see %s", ingestLog)
	return ""
}

// makeBodies pre-encodes v2 alert arrays over a pool of distinct alerts;
// "PHASE" in each is replaced by the phase, for telling decisions apart:
// each phase's alerts are new, then repeat.
func makeBodies(pool, scopes, batch int) [][]byte {
	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	}
	var bodies [][]byte
	for i := 0; i < pool; i += batch {
		var as []alert
		for j := i; j < i+batch; j++ {
			as = append(as, alert{
				Labels: map[string]string{"alertname": "BenchAlertPHASE-" + strconv.Itoa(j%7), "cluster": "c" + strconv.Itoa(j%scopes),
					"service": "svc" + strconv.Itoa(j%(scopes*5)), "instance": "10.0." + strconv.Itoa(j/250%250) + "." + strconv.Itoa(j%250) + ":9100",
					"severity": "warning"},
				Annotations: map[string]string{"summary": "benchmark alert", "phase": "PHASE"},
			})
		}
		b, _ := json.Marshal(as)
		bodies = append(bodies, b)
	}
	return bodies
}

// drive posts bodies with workers until d passed, at rate alerts/s (0: as
// fast as acknowledged), and counts the acknowledged alerts.
func drive(base string, bodies [][]byte, workers int, d time.Duration, rate int, phase string) (acked, fails int64, took time.Duration) {
	phased := make([][]byte, len(bodies))
	for i, b := range bodies {
		phased[i] = bytes.ReplaceAll(b, []byte("PHASE"), []byte(phase))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 30 * time.Second}
	batch := int64(bytes.Count(phased[0], []byte(`"labels"`)))
	var n, f, next atomic.Int64
	var tokens chan struct{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if rate > 0 {
		tokens = make(chan struct{}, workers)
		go func() {
			every := time.Duration(float64(time.Second) * float64(batch) / float64(rate))
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					close(tokens)
					return
				case <-t.C:
					select {
					case tokens <- struct{}{}:
					default: // workers are behind: the rate is not met
					}
				}
			}
		}()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if tokens != nil {
					if _, ok := <-tokens; !ok {
						return
					}
				}
				b := phased[int(next.Add(1))%len(phased)]
				resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(b))
				if err != nil {
					if f.Add(1) == 1 {
						log.Printf("first failed request: %v", err)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					n.Add(batch)
				} else if f.Add(1) == 1 {
					log.Printf("first failed request: %s", resp.Status)
				}
			}
		})
	}
	wg.Wait()
	return n.Load(), f.Load(), time.Since(start)
}

// decisionReader reads every partition of the decisions topic from the start.
type decisionReader struct {
	mu     sync.Mutex
	count  int64
	lat    map[string][]time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newDecisionReader(broker, topic string, partitions int) *decisionReader {
	d := &decisionReader{lat: map[string][]time.Duration{}}
	d.cancel = readPartitions(broker, topic, partitions, &d.wg, func(m kafkago.Message) {
		var rec struct {
			Alert struct {
				ReceivedAt  time.Time         `json:"receivedAt"`
				Annotations map[string]string `json:"annotations"`
			} `json:"alert"`
		}
		if json.Unmarshal(m.Value, &rec) != nil {
			return
		}
		d.mu.Lock()
		d.count++
		ph := rec.Alert.Annotations["phase"]
		d.lat[ph] = append(d.lat[ph], m.Time.Sub(rec.Alert.ReceivedAt))
		d.mu.Unlock()
	})
	return d
}

// readPartitions reads every partition of topic from the start, each in a
// goroutine of wg, handing each record to fn, until the returned cancel.
func readPartitions(broker, topic string, partitions int, wg *sync.WaitGroup, fn func(kafkago.Message)) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	for p := range partitions {
		wg.Go(func() {
			r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				fn(m)
			}
		})
	}
	return cancel
}

func (d *decisionReader) waitCount(n int64, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		d.mu.Lock()
		c := d.count
		d.mu.Unlock()
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("only %d of %d decisions read after %s", c, n, max)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *decisionReader) latencies(phase string) []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.lat[phase]...)
}

func (d *decisionReader) close() {
	d.cancel()
	d.wg.Wait()
}
