package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/budget"
)

// TestMemoryBudget floods quell on its default memory budget (1 GiB on a
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
