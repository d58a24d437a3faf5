package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/budget"
)

// TestMemoryBudget floods quell on its default memory budget (512 MiB on a
// machine without a container limit) with 3,000 distinct alerts of 100
// labels of 4 KiB and an 8 KiB annotation, each within every ingest limit
// (1.25 GB of alerts), from four senders that retry a 503 as Alertmanager
// does. The correlator evicts its least active incidents to keep to its
// share, ingest pushes back (503 with Retry-After) whenever the queue or
// memory is full, the peak resident memory stays under the budget, and
// every alert accepted is decided.
func TestMemoryBudget(t *testing.T) {
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`decisions: %s
correlate:
  group_wait: 1s
ingest:
  rate_per_client: 0
`, decisions))
	p := e.start(t)
	p.wantCleanExit = true
	big := strings.Repeat("x", 4096)
	var mu sync.Mutex
	var acked []string
	refused := 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for b := range 38 {
				var body []amAlert
				var uids []string
				for i := range 20 {
					uid := fmt.Sprintf("w%d-%d-%d", w, b, i)
					labels := map[string]string{"alertname": "Big", "service": fmt.Sprintf("svc%d", i%10), "uid": uid}
					for l := range 97 {
						labels[fmt.Sprintf("l%02d", l)] = big
					}
					uids = append(uids, uid)
					body = append(body, amAlert{Labels: labels, Annotations: map[string]string{"uid": uid, "description": strings.Repeat("d", 8<<10)},
						StartsAt: time.Now().UTC()})
				}
				for began := time.Now(); !post(e.url(ingest.PathAlertsV2), body); { // as Alertmanager, retry a 5xx
					if time.Since(began) > waitFor {
						t.Errorf("sender %d: batch %d refused for %s", w, b, waitFor)
						return
					}
					mu.Lock()
					refused++
					mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
				mu.Lock()
				acked = append(acked, uids...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	eventually(t, p, "a decision for every accepted alert", allDecided(t, decisions, acked))
	memory := metricSum(t, e.url(""), "quell_ingest_requests_rejected_total", `reason="memory"`)
	evicted := metricSum(t, e.url(""), "quell_evictions_total", "")
	hwm := peakRSS(t, p)
	t.Logf("%d alerts accepted; %d requests refused and retried (%v for memory); %v incidents evicted; peak RSS %d MiB", len(acked), refused, memory, evicted, hwm>>20)
	if evicted == 0 {
		t.Errorf("no incident was evicted: the flood did not reach the correlator's share of the budget")
	}
	if limit := budget.DefaultLimit(); hwm > limit {
		t.Errorf("peak RSS %d MiB, want under the default budget of %d MiB", hwm>>20, limit>>20)
	}
}

// TestConcurrentReads: 16 clients read every incident at once, page after
// page, three times over, from a quell (memory_limit 128MiB) holding as
// many alerts as its budget lets it; it stays under the budget.
func TestConcurrentReads(t *testing.T) {
	const limit = 128 << 20
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), `memory_limit: 128MiB
correlate:
  group_wait: 1s
ingest:
  rate_per_client: 0
`)
	p := e.start(t)
	p.wantCleanExit = true
	load := startLoadPadded(t, e.url(ingest.PathAlertsV2), 2<<10)
	load.waitAcked(t, 20000)
	load.stop()
	before := peakRSS(t, p)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var read []int
	for range 16 {
		wg.Go(func() {
			for range 3 {
				incs, err := listIncidents(e.url(""), "")
				if err != nil {
					t.Error(err)
					return
				}
				alerts := 0
				for _, inc := range incs {
					alerts += len(inc.Alerts)
				}
				mu.Lock()
				read = append(read, alerts)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	hwm := peakRSS(t, p)
	t.Logf("%d alerts acknowledged; 48 reads of every incident returned %v alerts (min, max); peak RSS %d MiB (%d MiB before the reads)", load.acked(), minMax(read), hwm>>20, before>>20)
	if len(read) != 48 || minMax(read)[0] == 0 {
		t.Errorf("%d reads complete, holding %v alerts; want 48 reads, none empty", len(read), minMax(read))
	}
	if hwm > limit {
		t.Errorf("peak RSS %d MiB, over the 128 MiB budget", hwm>>20)
	}
}

func minMax(xs []int) [2]int {
	if len(xs) == 0 {
		return [2]int{}
	}
	return [2]int{slices.Min(xs), slices.Max(xs)}
}
