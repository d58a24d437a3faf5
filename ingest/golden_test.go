package ingest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current parsers")

// goldenNow is the receive time in golden files: after every fixture's
// timestamps.
var goldenNow = time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)

// parsers are the routes' parsers, keyed as in the golden files.
var parsers = map[string]func([]byte, time.Time) ([]quell.Alert, error){
	"POST " + PathAlertmanager: ParseAlertmanagerWebhook,
	"POST " + PathAlertsV2:     ParseAlertsV2,
	"POST " + PathDatadog:      ParseDatadogWebhook,
	"POST " + PathSplunk: func(b []byte, now time.Time) ([]quell.Alert, error) {
		return ParseSplunkWebhook(b, now, DefaultConfig().SplunkResolveTimeout)
	},
}

type goldenResult struct {
	Alerts []quell.Alert `json:"alerts,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// TestGolden runs every real payload in testdata/webhooks through every
// route's parser and compares the alerts (fingerprinted as the handler does)
// or the error with testdata/golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/webhooks/*.json")
	if err != nil || len(files) < 17 {
		t.Fatalf("want the 17 real payloads in testdata/webhooks, found %d (%v)", len(files), err)
	}
	fp := dedupe.NewFingerprinter(nil)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]goldenResult{}
			accepted := 0
			for route, parse := range parsers {
				alerts, err := parse(body, goldenNow)
				if err != nil {
					got[route] = goldenResult{Error: err.Error()}
					continue
				}
				for i := range alerts {
					alerts[i].Fingerprint = fp.Fingerprint(&alerts[i])
				}
				got[route] = goldenResult{Alerts: alerts}
				accepted++
			}
			// Each supported sender's payload is accepted by exactly its own
			// route; PagerDuty, Opsgenie and the unrendered template by none.
			want := 1
			if strings.HasPrefix(name, "pagerduty") || strings.HasPrefix(name, "opsgenie") || strings.Contains(name, "template") {
				want = 0
			}
			if accepted != want {
				t.Errorf("%d routes accepted the payload, want %d", accepted, want)
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			path := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want2, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run go test ./ingest/ -run Golden -update to create it", err)
			}
			if !bytes.Equal(out, want2) {
				t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", path, out)
			}
		})
	}
}
