package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// sustained runs split mode under a sustained load of distinct alerts with
// a crash of the correlator: ingest, correlate and sink --decisions on a
// fresh prefix, senders posting batches of new alerts (no scope label: one
// scope, as most single-cluster users send) for duration, the correlator
// killed with SIGKILL at killAt and started again at once. It prints the
// acknowledged alerts, how many got a decision in the sink's decision log
// and how many got two different incidents, how long after the load every
// acknowledged alert had its decision there, the restore time, and each
// stage's peak resident memory and CPU time, also per alert, with a broker
// on this machine's.
func sustained(bin, broker string, partitions, senders, batch, clusters int, duration, killAt, drain, snapEvery time.Duration, memoryLimit int64, pprof string, embedded bool) {
	prefix := fmt.Sprintf("sustained%d", time.Now().UnixNano())
	dir, err := os.MkdirTemp("", "quell-sustained")
	if err != nil {
		log.Fatal(err)
	}
	// A run leaves gigabytes of records and decision logs: only the logs
	// stay (deferred first: it runs once the stages stopped).
	defer cleanUp(broker, prefix, dir)
	cfg := filepath.Join(dir, "quell.yaml")
	yaml := fmt.Sprintf("ingest:\n  rate_per_client: 0\nkafka:\n  prefix: %s\n  partitions: %d\n  snapshot_every: %s\n", prefix, partitions, snapEvery)
	if memoryLimit > 0 {
		yaml += fmt.Sprintf("memory_limit: %d\n", memoryLimit)
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		log.Fatal(err)
	}
	// Named, the restarted correlator takes the killed one's place in the
	// group at once (see quell correlate --help).
	correlator := []string{"--instance-id", "correlate-0"}
	stages := map[string]*exec.Cmd{}
	for _, st := range []string{"correlate", "sink", "ingest"} {
		var extra []string
		switch {
		case st == "sink":
			extra = []string{"--decisions", filepath.Join(dir, "decisions.jsonl")}
		case st == "correlate":
			extra = correlator
			if pprof != "" {
				extra = append(extra, "--pprof", pprof)
			}
		}
		stages[st] = launch(bin, dir, cfg, broker, st, extra...)
	}
	defer func() {
		for _, p := range stages {
			p.Process.Signal(os.Interrupt)
			p.Wait()
		}
	}()
	ingestLog = filepath.Join(dir, "ingest.log")
	base := waitListen(func() {})
	fmt.Printf("split mode on %s, prefix %s, logs in %s\n", broker, prefix, dir)
	// What the sink wrote to its decision log, as for quell serve below: a
	// decision counts once it reached the end of the pipeline, and both
	// modes are checked the same way (reading the decisions topic cost the
	// machine's CPU more than following a file).
	dec := newFileIncidentReader(filepath.Join(dir, "decisions.jsonl"))
	defer dec.close()

	peak := map[string]int64{}
	var killedAt time.Time
	var cpuBefore time.Duration // the killed correlator's
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		if killAt >= duration {
			return // no crash
		}
		time.Sleep(killAt)
		c := stages["correlate"]
		peak["correlate"] = max(peak["correlate"], vmHWM(c.Process.Pid))
		cpuBefore = cpuTime(c.Process.Pid)
		c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		killedAt = time.Now()
		stages["correlate"] = launch(bin, dir, cfg, broker, "correlate", correlator...)
	}()
	spread := "one scope"
	if clusters > 0 {
		spread = fmt.Sprintf("%d clusters", clusters)
	}
	fmt.Printf("%d senders posting %d new alerts a request (%s) for %s; the correlator is killed with SIGKILL at %s\n", senders, batch, spread, duration, killAt)
	brokerPid := listener(broker)
	brokerBefore, jitBefore := cpuTime(brokerPid), jitTime(brokerPid)
	acked, fails, took := driveDistinct(base, senders, batch, clusters, duration)
	end := time.Now()
	<-killed
	fmt.Printf("acknowledged: %d alerts in %s: %.0f alerts/s (%d requests refused)\n", len(acked)*batch, took.Round(time.Millisecond), float64(len(acked)*batch)/took.Seconds(), fails)

	caughtUp := dec.waitDecided(acked, batch, end, drain)
	cpu := map[string]time.Duration{"correlate": cpuBefore}
	for _, st := range []string{"ingest", "correlate", "sink"} {
		peak[st] = max(peak[st], vmHWM(stages[st].Process.Pid))
		cpu[st] += cpuTime(stages[st].Process.Pid)
	}
	if brokerPid != 0 {
		cpu["broker"] = cpuTime(brokerPid) - brokerBefore
		cpu["jit"] = jitTime(brokerPid) - jitBefore
	}
	decided, split := dec.count(acked, batch)
	fmt.Printf("decided: %d of the acknowledged alerts; in two different incidents: %d\n", decided, split)
	if caughtUp > 0 {
		fmt.Printf("every acknowledged alert decided %s after the load stopped\n", caughtUp.Round(100*time.Millisecond))
	} else {
		fmt.Printf("NOT every acknowledged alert was decided within %s after the load stopped\n", drain)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "correlate.log"))
	restore, read := 0.0, 0
	for _, m := range restoreRE.FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		s, _ := strconv.ParseFloat(string(m[2]), 64)
		if n > 0 {
			restore, read = max(restore, s), max(read, n)
		}
	}
	if !killedAt.IsZero() {
		fmt.Printf("restore after the kill (at %s): partitions assigned %s after it, then %.2fs for the slowest partition (%d state records read)\n",
			killedAt.Format("15:04:05"), reassigned(b, killedAt), restore, read)
	}
	fmt.Printf("state saves that failed: %d; records the broker refused: %d\n",
		bytes.Count(b, []byte("saving the partition's state failed")), bytes.Count(b, []byte("Message Size Too Large")))
	fmt.Printf("peak RSS: ingest %d MB, correlate %d MB, sink %d MB\n", peak["ingest"]>>10, peak["correlate"]>>10, peak["sink"]>>10)
	fmt.Printf("CPU time until all decided: ingest %.1fs, correlate %.1fs, sink %.1fs\n", cpu["ingest"].Seconds(), cpu["correlate"].Seconds(), cpu["sink"].Seconds())
	// On one machine the stages and the broker share the cores: what each
	// costs an alert is what bounds the rate.
	n := len(acked) * batch
	perAlert := func(d time.Duration) float64 { return microsPer(d, n) }
	line := fmt.Sprintf("CPU per acknowledged alert: ingest %.1fµs, correlate %.1fµs, sink %.1fµs", perAlert(cpu["ingest"]), perAlert(cpu["correlate"]), perAlert(cpu["sink"]))
	if brokerPid != 0 {
		line += fmt.Sprintf(", broker (pid %d, on this machine) %.1fµs (%.1fs of it in its JIT compiler)", brokerPid, perAlert(cpu["broker"]), cpu["jit"].Seconds())
	}
	total := cpu["ingest"] + cpu["correlate"] + cpu["sink"] + cpu["broker"]
	fmt.Printf("%s: %.1fµs in all\n", line, perAlert(total))
	for _, p := range stages {
		p.Process.Signal(os.Interrupt)
		p.Wait()
	}
	clear(stages)
	splitRate := pipelineRate(len(acked)*batch, took, caughtUp)
	if !embedded {
		return
	}

	// The embedded default on the same machine, same load: quell serve.
	yaml = "ingest:\n  rate_per_client: 0\n"
	if memoryLimit > 0 {
		yaml += fmt.Sprintf("memory_limit: %d\n", memoryLimit)
	}
	os.WriteFile(cfg, []byte(yaml), 0o644)
	serveLog := filepath.Join(dir, "serve.log")
	extra := []string{"--decisions", filepath.Join(dir, "serve-decisions.jsonl")}
	if pprof != "" {
		extra = append(extra, "--pprof", pprof)
	}
	serve := launch(bin, dir, cfg, "", "serve", extra...)
	stages["serve"] = serve
	ingestLog = serveLog
	base = waitListen(func() {})
	fd := newFileIncidentReader(filepath.Join(dir, "serve-decisions.jsonl"))
	defer fd.close()
	acked, fails, took = driveDistinct(base, senders, batch, clusters, duration)
	caughtUp = fd.waitDecided(acked, batch, time.Now(), drain)
	decided, splitN := fd.count(acked, batch)
	serveCPU := cpuTime(serve.Process.Pid)
	fmt.Printf("embedded default (quell serve), same load: %d alerts acknowledged in %s: %.0f alerts/s (%d requests refused); %d decided, %d in two incidents, all %s after the load; peak RSS %d MB, CPU time %.1fs (%.1fµs an alert)\n",
		len(acked)*batch, took.Round(time.Millisecond), float64(len(acked)*batch)/took.Seconds(), fails, decided, splitN, caughtUp.Round(100*time.Millisecond),
		vmHWM(serve.Process.Pid)>>10, serveCPU.Seconds(), microsPer(serveCPU, len(acked)*batch))
	embeddedRate := pipelineRate(len(acked)*batch, took, caughtUp)
	fmt.Printf("sustained rate (acknowledged alerts / time until all decided): split %.0f alerts/s, embedded %.0f alerts/s: split/embedded %.2f\n", splitRate, embeddedRate, splitRate/embeddedRate)
}

// cleanUp deletes the run's topics and everything in dir but the stages' logs.
func cleanUp(broker, prefix, dir string) {
	var topics []string
	for _, t := range []string{"alerts", "decisions", "incidents", "deadletter", "state"} {
		topics = append(topics, prefix+"."+t)
	}
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 30 * time.Second}
	if _, err := client.DeleteTopics(context.Background(), &kafkago.DeleteTopicsRequest{Topics: topics}); err != nil {
		log.Printf("deleting the run's topics %v: %v", topics, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".log" {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// microsPer is d in microseconds per one of n alerts.
func microsPer(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

// pipelineRate is the alerts a pipeline took and decided per second of the
// load and its drain; 0 when it did not decide them all.
func pipelineRate(alerts int, load, drained time.Duration) float64 {
	if drained == 0 {
		return 0
	}
	return float64(alerts) / (load + drained).Seconds()
}

// reassigned is how long after the kill the group gave the restarted
// correlator its partitions, from the correlator's log.
func reassigned(log []byte, killedAt time.Time) string {
	for _, m := range generationRE.FindAllSubmatch(log, -1) {
		if at, err := time.Parse(time.RFC3339Nano, string(m[1])); err == nil && at.After(killedAt) {
			return at.Sub(killedAt).Round(10 * time.Millisecond).String()
		}
	}
	return "never"
}

var generationRE = regexp.MustCompile(`time=(\S+) level=INFO msg="consumer group generation"`)

var restoreRE = regexp.MustCompile(`state_records_read=(\d+) restore_seconds=([0-9.e-]+)`)

// vmHWM is a process's peak resident memory in kB.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is the CPU time a process used so far, user and system
// (/proc/PID/stat's utime and stime, in the kernel's 100 ticks a second).
func cpuTime(pid int) time.Duration { return statCPU(fmt.Sprintf("/proc/%d/stat", pid)) }

// jitTime is the CPU time the JIT compiler threads of a JVM (HotSpot's "C1
// CompilerThread" and "C2 CompilerThread") used so far: a broker started
// fresh (kafka.sh reset) compiles the paths a new load makes hot while it
// serves it, beside the stages: 10-17 s of CPU in a first run, about 2 s
// in a third. A broker in service has long done that.
func jitTime(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	var d time.Duration
	for _, t := range tasks {
		if comm, err := os.ReadFile(filepath.Join(t, "comm")); err == nil && bytes.Contains(comm, []byte(" CompilerThre")) {
			d += statCPU(filepath.Join(t, "stat"))
		}
	}
	return d
}

// statCPU reads utime and stime from a stat file of /proc.
func statCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis, from the state (3rd).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// driveDistinct posts batches of alerts never sent before until d passed;
// it returns the first alert number of every acknowledged batch.
func driveDistinct(base string, senders, batch, clusters int, d time.Duration) (acked []int64, fails int64, took time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 30 * time.Second}
	var next, f atomic.Int64
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			var body []byte
			for ctx.Err() == nil {
				first := next.Add(int64(batch)) - int64(batch)
				body = distinctBody(body[:0], first, batch, clusters)
				resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
				if err != nil {
					f.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					// Refused (503: behind, or full): back off a little, as a
					// sender's retry would, instead of spinning.
					f.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked = append(acked, first)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return acked, f.Load(), time.Since(start)
}

// distinctBody appends a v2 alert array of alerts first… first+n-1,
// spread over clusters (0: no cluster label).
func distinctBody(b []byte, first int64, n, clusters int) []byte {
	b = append(b, '[')
	for i := first; i < first+int64(n); i++ {
		if i > first {
			b = append(b, ',')
		}
		b = append(b, `{"labels":{"alertname":"Sustained`...)
		b = strconv.AppendInt(b, i%7, 10)
		b = append(b, `","service":"svc`...)
		b = strconv.AppendInt(b, i%1000, 10)
		b = append(b, `","instance":"10.`...)
		b = strconv.AppendInt(b, i>>16&255, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, i>>8&255, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, i&255, 10)
		b = append(b, `:9100"`...)
		if clusters > 0 {
			b = append(b, `,"cluster":"c`...)
			b = strconv.AppendInt(b, i%int64(clusters), 10)
			b = append(b, '"')
		}
		b = append(b, `,"n":"`...)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, `","severity":"warning"},"annotations":{"summary":"sustained load"}}`...)
	}
	return append(b, ']')
}

// incidentReader follows a decision log file (quell sink or quell serve
// --decisions) and keeps the incident each alert (label n) was decided
// into, and whether any alert was decided into two.
type incidentReader struct {
	mu     sync.Mutex
	inc    map[int64]string
	split  map[int64]bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newFileIncidentReader follows the decision log file at path.
func newFileIncidentReader(path string) *incidentReader {
	ctx, cancel := context.WithCancel(context.Background())
	d := &incidentReader{inc: map[int64]string{}, split: map[int64]bool{}, cancel: cancel}
	d.wg.Go(func() {
		var off int64
		var rest []byte
		for ctx.Err() == nil {
			f, err := os.Open(path)
			if err == nil {
				f.Seek(off, io.SeekStart)
				b, _ := io.ReadAll(f)
				f.Close()
				off += int64(len(b))
				rest = append(rest, b...)
				for {
					i := bytes.IndexByte(rest, '\n')
					if i < 0 {
						break
					}
					d.note(rest[:i])
					rest = rest[i+1:]
				}
				rest = append([]byte(nil), rest...)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	return d
}

// note records one decision record's alert and incident. It picks the two
// out of quell's decision JSON by their keys rather than decoding it whole:
// a quote inside a string value is escaped, so a key cannot be mistaken
// for text, and the labels come before the raw payload. Decoding each
// record took a third of a core on a two-core machine, CPU the stages
// under test went without.
func (d *incidentReader) note(b []byte) {
	i := bytes.Index(b, []byte(`"n":"`))
	j := bytes.LastIndex(b, []byte(`,"incident":"`))
	if i < 0 || j < 0 {
		return
	}
	num := b[i+len(`"n":"`):]
	num = num[:max(0, bytes.IndexByte(num, '"'))]
	inc := b[j+len(`,"incident":"`):]
	inc = inc[:max(0, bytes.IndexByte(inc, '"'))]
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || len(inc) == 0 {
		return
	}
	d.mu.Lock()
	if was, ok := d.inc[n]; ok && was != string(inc) {
		d.split[n] = true
	}
	d.inc[n] = string(inc)
	d.mu.Unlock()
}

func (d *incidentReader) count(acked []int64, batch int) (decided, split int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, first := range acked {
		for n := first; n < first+int64(batch); n++ {
			if _, ok := d.inc[n]; ok {
				decided++
			}
			if d.split[n] {
				split++
			}
		}
	}
	return decided, split
}

// waitDecided returns how long after end every acknowledged alert had its
// decision, or 0 if they did not by end+drain.
func (d *incidentReader) waitDecided(acked []int64, batch int, end time.Time, drain time.Duration) time.Duration {
	want := len(acked) * batch
	for time.Since(end) < drain {
		// Counting the acknowledged alerts costs a lookup each: only once
		// as many alerts have decisions, so that the check does not take
		// the machine's CPU from the stages it waits for.
		d.mu.Lock()
		enough := len(d.inc) >= want
		d.mu.Unlock()
		if enough {
			if decided, _ := d.count(acked, batch); decided == want {
				return time.Since(end)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0
}

func (d *incidentReader) close() {
	d.cancel()
	d.wg.Wait()
}
