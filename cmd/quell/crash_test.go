package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/testenv"
)

// embedded runs quell serve on one address and data dir across restarts.
type embedded struct {
	bin, config, addr, dataDir string
}

func newEmbedded(t *testing.T, dataDir, config string) *embedded {
	e := &embedded{bin: buildQuell(t), config: filepath.Join(t.TempDir(), "quell.yaml"), addr: freeAddr(t), dataDir: dataDir}
	writeFile(t, e.config, config)
	return e
}

func (e *embedded) url(path string) string { return "http://" + e.addr + path }

// start starts quell and waits until it listens.
func (e *embedded) start(t *testing.T) *proc {
	t.Helper()
	p := start(t, "quell", e.bin, "serve", "--config", e.config, "--listen", e.addr, "--data-dir", e.dataDir)
	eventually(t, p, "quell to listen", func() (bool, string) { return httpOK(e.url("/healthz")) })
	return p
}

// ready reports /readyz's answer.
func (e *embedded) ready() (bool, string) { return httpOK(e.url("/readyz")) }

// hookLog records the incident changes a webhook sink delivers.
type hookLog struct {
	mu    sync.Mutex
	kinds map[string]map[quell.ChangeKind]bool // incident id → the kinds of change announced
	owner map[string]map[string]bool           // alert uid → the incidents it was announced in
}

func newHookLog(t *testing.T) (*hookLog, string) {
	h := &hookLog{kinds: map[string]map[quell.ChangeKind]bool{}, owner: map[string]map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c quell.IncidentChange
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		id := c.Incident.ID
		if h.kinds[id] == nil {
			h.kinds[id] = map[quell.ChangeKind]bool{}
		}
		h.kinds[id][c.Kind] = true
		for _, a := range c.Incident.Alerts {
			uid := a.Labels["uid"]
			if h.owner[uid] == nil {
				h.owner[uid] = map[string]bool{}
			}
			h.owner[uid][id] = true
		}
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

// unresolved lists the announced incidents with no resolved change.
func (h *hookLog) unresolved() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, kinds := range h.kinds {
		if !kinds[quell.IncidentResolve] {
			out = append(out, id)
		}
	}
	return out
}

// TestEmbeddedKill9UnderLoad kills quell serve with SIGKILL while four
// senders post, restarts it on the same address and data dir while they
// go on, then resolves every acknowledged alert. Nothing acknowledged is
// lost; the restart decides the journal as the live run did, so every
// incident announced before the crash still exists and resolves, no alert
// is announced in two incidents, and the decision log holds no decision
// twice.
func TestEmbeddedKill9UnderLoad(t *testing.T) {
	hooks, hookURL := newHookLog(t)
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`decisions: %s
correlate:
  group_wait: 1s
  resolve_hold: 1s
ingest:
  rate_per_client: 0
webhooks:
  - name: hook
    url: %s
`, decisions, hookURL))
	first := e.start(t)
	load := startLoad(t, e.url(ingest.PathAlertsV2))
	// Kill once decisions are out (the first ones wait out group_wait) and
	// more alerts wait in the journal than the last save covers.
	eventually(t, first, "decisions before the crash", func() (bool, string) {
		_, n := readDecisions(t, decisions)
		return n >= 1000, fmt.Sprintf("%d decisions", n)
	})
	killHard(t, first)
	crashedAt := load.acked()

	second := e.start(t)
	second.wantCleanExit = true
	load.waitAcked(t, crashedAt+1000)
	load.stop()
	load.mu.Lock()
	acked := append([]string(nil), load.uids...)
	load.mu.Unlock()
	t.Logf("%d alerts acknowledged, %d before the crash; %d requests failed and were not counted", len(acked), crashedAt, load.fails.Load())

	eventually(t, second, "a decision for every acknowledged alert", allDecided(t, decisions, acked))
	// Every alert sent is resolved: one whose request the crash cut may
	// have been accepted and announced.
	sent := load.sent()
	resolved := time.Now().UTC()
	for i := 0; i < len(sent); i += 200 {
		var body []amAlert
		for _, uid := range sent[i:min(i+200, len(sent))] {
			body = append(body, loadAlert(uid, resolved.Add(-time.Minute), resolved))
		}
		if !post(e.url(ingest.PathAlertsV2), body) {
			t.Fatal("resolving the acknowledged alerts was refused")
		}
	}
	eventually(t, second, "every announced incident resolved", func() (bool, string) {
		open := hooks.unresolved()
		return len(open) == 0, fmt.Sprintf("%d announced incidents never resolved: %.5v", len(open), open)
	})

	owners, records := readDecisions(t, decisions)
	for _, uid := range acked {
		if len(owners[uid]) != 1 {
			t.Errorf("alert %s has decisions in %d incidents, want 1: %v", uid, len(owners[uid]), owners[uid])
		}
	}
	hooks.mu.Lock()
	for uid, ids := range hooks.owner {
		if len(ids) != 1 {
			t.Errorf("alert %s was announced in %d incidents: %v", uid, len(ids), ids)
		}
	}
	incidents := len(hooks.kinds)
	hooks.mu.Unlock()
	if twice := decidedTwice(t, decisions); twice > 0 {
		t.Errorf("the decision log records %d alert occurrences twice", twice)
	}
	t.Logf("%d decision records, %d incidents announced, all resolved", records, incidents)
}

// decidedTwice counts the alert occurrences (an alert firing, or
// resolving) the decision log records more than once: each uid fired once
// and resolved once.
func decidedTwice(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	twice := 0
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var d quell.Decision
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("decision log: %v", err)
		}
		occurrence := d.Alert.Labels["uid"] + " " + string(d.Alert.Status)
		if seen[occurrence] {
			twice++
		}
		seen[occurrence] = true
	}
	return twice
}

// TestEmbeddedFullDisk runs quell with its data dir on a 20 MiB
// filesystem that the test fills, frees and fills again, then kills quell
// with SIGKILL and restarts it on the still full disk. /readyz fails while
// the journal cannot be written and recovers by itself when space
// returns; the start succeeds; every acknowledged alert is decided.
func TestEmbeddedFullDisk(t *testing.T) {
	disk := testenv.SmallDisk(t, 20<<20)
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	e := newEmbedded(t, filepath.Join(disk, "data"), fmt.Sprintf(`decisions: %s
correlate:
  group_wait: 1s
ingest:
  rate_per_client: 0
`, decisions))
	ballast := filepath.Join(disk, "ballast")
	var acked []string
	next := 0
	// send posts batches of 50 new alerts n times, noting those acknowledged,
	// and returns how many requests were refused.
	send := func(n int) (refused int) {
		for range n {
			var body []amAlert
			var uids []string
			for range 50 {
				next++
				uid := fmt.Sprintf("a%d", next)
				uids = append(uids, uid)
				body = append(body, loadAlert(uid, time.Now().UTC(), time.Time{}))
			}
			if post(e.url(ingest.PathAlertsV2), body) {
				acked = append(acked, uids...)
			} else {
				refused++
			}
		}
		return refused
	}
	notReady := func() (bool, string) { ok, state := e.ready(); return !ok, state }
	began := time.Now()
	var p *proc
	step := func(what string, check func() (bool, string)) {
		t.Helper()
		eventually(t, p, what, check)
		t.Logf("%5.1fs %s", time.Since(began).Seconds(), what)
	}

	p = e.start(t)
	step("/readyz", e.ready)
	send(20)
	for round := 1; round <= 2; round++ {
		fill(t, ballast)
		step(fmt.Sprintf("ingest to refuse alerts on the full disk (round %d)", round), func() (bool, string) {
			refused := send(1)
			return refused > 0, "every request still acknowledged"
		})
		// quell frees space by cutting its journal: take that too.
		step("/readyz to fail while the journal cannot be written", func() (bool, string) {
			fill(t, ballast)
			return notReady()
		})
		if round == 1 {
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			step("/readyz to recover by itself once space returns", e.ready)
			if refused := send(20); refused > 0 {
				t.Fatalf("%d requests refused after space returned", refused)
			}
		}
	}
	killHard(t, p)
	t.Logf("%d alerts acknowledged before the crash", len(acked))

	p = e.start(t)
	p.wantCleanExit = true
	step("ingest to refuse alerts on the disk still full", func() (bool, string) {
		fill(t, ballast) // what the start freed by cutting the journal
		return send(1) > 0, "every request still acknowledged"
	})
	step("/readyz to fail on the disk still full", notReady)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	step("/readyz once space returns after the restart", e.ready)
	step("a decision for every acknowledged alert", allDecided(t, decisions, acked))
}

// fill writes path until the filesystem has no space left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// TestEmbeddedStopsInTimeUnderBacklog: a webhook receiver that does not
// answer stalls the correlator while alerts keep being accepted. SIGTERM
// still ends quell within Kubernetes' 30 s grace, and the restart decides
// every acknowledged alert: the journal kept the backlog.
func TestEmbeddedStopsInTimeUnderBacklog(t *testing.T) {
	answer := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-answer:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() {
		select {
		case <-answer:
		default:
			close(answer)
		}
	})
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`decisions: %s
correlate:
  group_wait: 1s
ingest:
  rate_per_client: 0
webhooks:
  - name: stalled
    url: %s
    queue: 1
    timeout: 2m
`, decisions, hook.URL))
	p := e.start(t)
	var acked []string
	for b := range 40 {
		var body []amAlert
		for i := range 50 {
			uid := fmt.Sprintf("a%d", b*50+i)
			acked = append(acked, uid)
			body = append(body, loadAlert(uid, time.Now().UTC(), time.Time{}))
		}
		if !post(e.url(ingest.PathAlertsV2), body) {
			t.Fatalf("batch %d refused", b)
		}
		time.Sleep(50 * time.Millisecond) // past group_wait: changes go out, and stall
	}
	began := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("quell did not stop within 30 s of SIGTERM under a backlog")
	}
	t.Logf("stopped %s after SIGTERM with the webhook stalled", time.Since(began).Round(time.Millisecond))
	close(answer)

	p = e.start(t)
	p.wantCleanExit = true
	eventually(t, p, "a decision for every acknowledged alert after the restart", allDecided(t, decisions, acked))
	if twice := decidedTwice(t, decisions); twice > 0 {
		t.Errorf("the decision log records %d alert occurrences twice", twice)
	}
}
