package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
)

// TestEmbeddedCrashLosesNothing kills quell serve with SIGKILL right after
// it answered 2xx, long before its periodic save of the correlator's state,
// restarts it on the same data dir, and finds every accepted alert in an
// incident: the journal kept them.
func TestEmbeddedCrashLosesNothing(t *testing.T) {
	bin := buildQuell(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "quell.yaml")
	if err := os.WriteFile(cfg, []byte("correlate:\n  group_wait: 1s\ningest:\n  rate_per_client: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() (*proc, string) {
		p := start(t, "quell", bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
		var addr string
		eventually(t, p, "quell to log its listen address", func() (bool, string) {
			m := listenRE.FindStringSubmatch(p.out.String())
			if m != nil {
				addr = m[1]
			}
			return m != nil, "no \"quell serving\" line yet"
		})
		return p, "http://" + addr
	}

	first, url := run()
	const batches, per = 40, 25
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	for b := 0; b < batches; b++ {
		alerts := make([]amAlert, per)
		for i := range alerts {
			alerts[i] = amAlert{StartsAt: started, Labels: map[string]string{"alertname": "QueueBacklog",
				"service": fmt.Sprintf("svc-%d", b%4), "uid": fmt.Sprintf("%d-%d", b, i)}}
		}
		if !post(url+ingest.PathAlertsV2, alerts) {
			t.Fatalf("batch %d was not accepted", b)
		}
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done

	second, url := run()
	second.wantCleanExit = true
	q := &quellProc{url: url}
	q.waitIncidents(t, "", fmt.Sprintf("all %d accepted alerts in incidents after the crash", batches*per), func(incs []quell.Incident) bool {
		seen := map[string]bool{}
		for _, inc := range incs {
			for _, a := range inc.Alerts {
				seen[a.Labels["uid"]] = true
			}
		}
		return len(seen) == batches*per
	})
}
