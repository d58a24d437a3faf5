package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/internal/testenv"
)

// These tests run split mode as separate processes of the real binary on a
// real broker, inject a fault while alerts flow, and check that every alert
// acknowledged with a 2xx lands in exactly one incident: none lost, none in
// two incidents.
//
//	QUELL_TEST_KAFKA=127.0.0.1:9092 go test -run 'TestSplit' -v ./cmd/quell/

// TestSplitCorrelatorKill9 kills the correlator with SIGKILL mid-stream and
// starts a new one: it resumes from its last snapshot and replays the rest.
// It also parks a poison record in the dead-letter topic on the way.
func TestSplitCorrelatorKill9(t *testing.T) {
	addr := testenv.Kafka(t)
	s := newSplit(t, buildQuell(t), addr)
	s.start("ingest")
	s.start("sink")
	corr := s.start("correlate")
	poison(t, addr, s.prefix)

	load := startLoad(t, s.ingestURL)
	load.waitAcked(t, 2000)
	killHard(t, corr)
	load.waitAcked(t, load.acked()+2000) // alerts pile up in Kafka meanwhile
	s.start("correlate")
	load.waitAcked(t, load.acked()+2000)
	load.stop()
	s.check(t, load)
	checkDeadLetter(t, addr, s.prefix)
}

// TestSplitSustained is bench/kafka -sustained, shortened: new alerts in
// one scope as fast as ingest takes them, the correlator killed with
// SIGKILL and started again under its --instance-id while they flow. It
// takes its old place in the group (the same generation: no rebalance, no
// wait for the dead member's session), its state is restored from the
// state topic's records, no checkpoint fails, and every acknowledged alert
// has exactly one incident.
func TestSplitSustained(t *testing.T) {
	addr := testenv.Kafka(t)
	s := newSplit(t, buildQuell(t), addr)
	// All at once, as a deployment starts them: the topics are new.
	ing, sink, corr := s.launch("ingest"), s.launch("sink"), s.launch("correlate", "--instance-id", "correlate-0")
	for _, p := range []*proc{ing, sink, corr} {
		s.serving(p)
	}
	load := startLoadWith(t, s.ingestURL, loadOpts{oneScope: true})
	load.waitAcked(t, 20000)
	killHard(t, corr)
	// With the correlator gone, alerts wait in Kafka until its catch-up
	// time passes kafka.max_delay (it does not move: at once, once its pace
	// is known); then ingest's readiness fails and it answers 503 with
	// Retry-After, as the embedded default does when full.
	ingestReady := func(want int) func() (bool, string) {
		return func() (bool, string) {
			resp, err := http.Get(s.ingestBase + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode == want && (want == 200 || strings.Contains(string(b), "-correlate) is")), fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
	}
	eventually(t, ing, "ingest's /readyz to report the correlator behind", ingestReady(503))
	refused := func() (bool, string) {
		resp, err := http.Post(s.ingestURL, "application/json", strings.NewReader(`[{"labels":{"alertname":"Refused"}}]`))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" && strings.Contains(string(b), "-correlate) is"),
			fmt.Sprintf("%d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	eventually(t, ing, "ingest to refuse alerts while the correlator is behind", refused)
	metrics := scrape(t, s.ingestBase)
	for _, m := range []string{"lag", "catchup_seconds"} {
		if !regexp.MustCompile(`quell_kafka_consumer_` + m + `\{group="[^"]+-correlate",topic="[^"]+\.alerts"\} (\+Inf|[1-9])`).MatchString(metrics) {
			t.Errorf("ingest's /metrics shows no %s of the correlator:\n%s", m, metrics)
		}
	}
	// Only the decision log is configured: nothing reads the incidents
	// topic, so no lag is reported for it.
	if strings.Contains(metrics, "-sink-incidents") || !strings.Contains(sink.out.String(), "the incidents topic is not read") {
		t.Errorf("with the decision log alone, the sink stage reads incident changes, or ingest reports their lag:\n%s\n%s", sink.out.String(), metrics)
	}
	restarted := s.start("correlate", "--instance-id", "correlate-0")
	generation := regexp.MustCompile(`consumer group generation.* generation=(\d+)`)
	var before []string
	for _, m := range generation.FindAllStringSubmatch(corr.out.String(), -1) {
		before = append(before, m[1])
	}
	eventually(t, restarted, "the restarted correlator to join the group", func() (bool, string) {
		return generation.MatchString(restarted.out.String()), "no generation yet"
	})
	if after := generation.FindStringSubmatch(restarted.out.String())[1]; len(before) == 0 || after != before[len(before)-1] {
		t.Errorf("the killed correlator had generations %v, the one restarted under its instance id got %s: it should take the old member's place, not rebalance", before, after)
	}
	// Its /metrics shows the takeover: one assignment, all four partitions
	// owned, each one's restore timed.
	eventually(t, restarted, "the restarted correlator to report its partitions", func() (bool, string) {
		m := scrape(t, "http://"+listenRE.FindStringSubmatch(restarted.out.String())[1])
		want := []string{"quell_kafka_partitions_owned 4\n", "quell_kafka_group_generations_total 1\n", "quell_kafka_partition_restore_seconds_count 4\n"}
		for _, w := range want {
			if !strings.Contains(m, w) {
				return false, fmt.Sprintf("no %q in its /metrics:\n%s", w, m)
			}
		}
		return true, ""
	})
	load.waitAcked(t, load.acked()+10000)
	load.stop()
	s.check(t, load)
	eventually(t, restarted, "ingest's /readyz to be ready once the correlator caught up", ingestReady(200))
	out := corr.out.String() + restarted.out.String()
	for _, bad := range []string{"saving the partition's state failed", "Message Size Too Large", "level=ERROR"} {
		if strings.Contains(out, bad) {
			t.Errorf("the correlator logged %q:\n%s", bad, out)
		}
	}
	// The topics are new: each stage waited until they were ready before
	// reading or writing, so none was told its broker was not yet leader.
	for _, p := range []*proc{ing, sink, corr, restarted} {
		if out := p.out.String(); strings.Contains(out, "Not Leader For Partition") {
			t.Errorf("%s met a partition whose leader was not ready:\n%s", p.name, out)
		}
	}
	// The busy partition (one scope: one partition) holds a record per
	// incident, member and alert; the others a header and what was learned.
	keys, took := 0, ""
	for _, m := range regexp.MustCompile(`restored_keys=(\d+) state_records_read=\d+ restore_seconds=(\S+)`).FindAllStringSubmatch(restarted.out.String(), -1) {
		if n, _ := strconv.Atoi(m[1]); n > keys {
			keys, took = n, m[2]
		}
	}
	if keys < 1000 {
		t.Fatalf("the restarted correlator restored %d keys from the state topic, want one per alert it tracked:\n%s", keys, restarted.out.String())
	}
	t.Logf("restored %d keys in %ss", keys, took)
}

// TestSplitInstanceIDTaken starts a correlator under a running one's
// --instance-id: the new one takes the place, and the first stops with an
// error that names the flag, so that two never work on one partition.
func TestSplitInstanceIDTaken(t *testing.T) {
	addr := testenv.Kafka(t)
	s := newSplit(t, buildQuell(t), addr)
	first := s.start("correlate", "--instance-id", "correlate-0")
	eventually(t, first, "the first correlator to get its partitions", func() (bool, string) {
		return strings.Contains(first.out.String(), "partition assigned"), "none yet"
	})
	second := s.start("correlate", "--instance-id", "correlate-0")
	select {
	case <-first.done:
	case <-time.After(waitFor):
		t.Fatalf("the first correlator still runs %s after another took its instance id", waitFor)
	}
	if code := first.cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(first.out.String(), `give each correlator its own --instance-id ("correlate-0" is taken)`) {
		t.Errorf("the replaced correlator exited with %d and did not say why:\n%s", code, first.out.String())
	}
	if second.exited() || !strings.Contains(second.out.String(), "partition assigned") {
		t.Errorf("the correlator that took the place does not work on its partitions:\n%s", second.out.String())
	}
}

// TestSplitRebalance runs two correlators and stops one: its partitions,
// with their state, move to the other.
func TestSplitRebalance(t *testing.T) {
	addr := testenv.Kafka(t)
	s := newSplit(t, buildQuell(t), addr)
	s.start("ingest")
	s.start("sink")
	s.start("correlate")
	second := s.start("correlate")
	load := startLoad(t, s.ingestURL)
	load.waitAcked(t, 3000)
	second.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-second.done:
	case <-time.After(waitFor):
		t.Fatalf("the second correlator did not stop within %s of SIGTERM", waitFor)
	}
	// Stopped, it saves each partition's state, a checkpoint in flight
	// included, so that the other resumes there instead of replaying.
	out := second.out.String()
	assigned, released := strings.Count(out, "partition assigned"), strings.Count(out, "partition released")
	if released != assigned || strings.Contains(out, "on release failed") {
		t.Errorf("the stopped correlator released %d of the %d partitions it was assigned, or failed to save one:\n%s", released, assigned, out)
	}
	load.waitAcked(t, load.acked()+3000)
	load.stop()
	s.check(t, load)
}

// TestSplitBrokerRestart restarts a private broker (not the shared one)
// under load: requests fail with 503 while it is down, and are retried.
func TestSplitBrokerRestart(t *testing.T) {
	testenv.Kafka(t) // a machine that runs Kafka tests can start a broker
	script, err := filepath.Abs("../../deploy/local/kafka.sh")
	if err != nil {
		t.Fatal(err)
	}
	port := freePortPair(t)
	env := append(os.Environ(), "QUELL_KAFKA_DIR="+t.TempDir(), "QUELL_KAFKA_ADDR=127.0.0.1:"+strconv.Itoa(port))
	broker := func(what string) {
		cmd := exec.Command(script, what)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kafka.sh %s: %v\n%s", what, err, out)
		}
	}
	broker("start")
	t.Cleanup(func() { broker("stop") })
	addr := "127.0.0.1:" + strconv.Itoa(port)

	s := newSplit(t, buildQuell(t), addr)
	s.start("ingest")
	s.start("sink")
	s.start("correlate")
	load := startLoad(t, s.ingestURL)
	load.waitAcked(t, 2000)
	broker("stop")
	broker("start")
	load.waitAcked(t, load.acked()+2000)
	load.stop()
	s.check(t, load)
}

// killHard sends SIGKILL: no drain, no last snapshot.
func killHard(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	<-p.done
	t.Logf("killed %s with SIGKILL", p.name)
}

// poison writes a record no stage can decode into the alerts topic.
func poison(t *testing.T, addr, prefix string) {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: kafka.NamesFor(prefix).Alerts, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := w.WriteMessages(ctx, kafkago.Message{Key: []byte("poison"), Value: []byte("{not json")}); err != nil {
		t.Fatalf("writing a poison record: %v", err)
	}
}

// checkDeadLetter wants the poison record in the dead-letter topic, with a reason.
func checkDeadLetter(t *testing.T, addr, prefix string) {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr}, Topic: kafka.NamesFor(prefix).DeadLetter, Partition: 0})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("reading the dead-letter topic: %v", err)
	}
	for _, h := range m.Headers {
		if h.Key == kafka.HeaderReason {
			if string(m.Value) != "{not json" {
				t.Errorf("dead letter holds %q, want the poison record", m.Value)
			}
			t.Logf("poison record dead-lettered: %s", h.Value)
			return
		}
	}
	t.Errorf("dead letter %q has no %s header: %v", m.Value, kafka.HeaderReason, m.Headers)
}
