package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
)

// amtool runs the real amtool against url and returns its output.
func amtool(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"--alertmanager.url=" + url, "--no-version-check"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// queried lists the alertnames amtool alert query prints (as JSON).
func queried(t *testing.T, bin, url string, args ...string) []string {
	t.Helper()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State      string   `json:"state"`
			SilencedBy []string `json:"silencedBy"`
		} `json:"status"`
	}
	out := amtool(t, bin, url, append([]string{"-o", "json", "alert", "query"}, args...)...)
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("amtool alert query printed %q: %v", out, err)
	}
	var names []string
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"]+":"+a.Status.State)
	}
	slices.Sort(names)
	return names
}

// pagerDutyEvents is an Events API v2 endpoint: it answers as PagerDuty
// documents (202, status success) and records each event's action and
// summary.
func pagerDutyEvents(t *testing.T) (func() []string, string) {
	var mu sync.Mutex
	var events []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			DedupKey    string `json:"dedup_key"`
			EventAction string `json:"event_action"`
			Payload     struct {
				Summary string `json:"summary"`
			} `json:"payload"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		events = append(events, ev.EventAction+" "+ev.Payload.Summary)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
	}))
	t.Cleanup(srv.Close)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(events)
	}, srv.URL
}

// TestAmtool drives quell with the real amtool, as an operator drives
// Alertmanager: alerts added with amtool alert add (no endsAt) are listed
// by amtool alert query; a silence made with amtool silence add is listed,
// marks the alert suppressed, and keeps it from opening a PagerDuty
// incident while the other alert opens one; the silence survives a
// restart and amtool silence expire ends it.
func TestAmtool(t *testing.T) {
	bin := testenv.Amtool(t)
	events, pdURL := pagerDutyEvents(t)
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), `correlate:
  group_wait: 1s
itsm:
  pagerduty:
    - name: oncall
      url: `+pdURL+`
      routing_key: R0UT1NGKEY0000000000000000000000
`)
	p := e.start(t)
	url := "http://" + e.addr
	id := strings.TrimSpace(amtool(t, bin, url, "silence", "add", "alertname=DiskFull", "--comment=replacing the disk", "--author=ana", "--duration=1h"))
	if len(id) != 36 {
		t.Fatalf("amtool silence add printed %q, want a silence id", id)
	}
	amtool(t, bin, url, "alert", "add", "alertname=DiskFull", "service=db", "cluster=prod", "--annotation=summary=disk full on db")
	amtool(t, bin, url, "alert", "add", "alertname=HighLatency", "service=web", "cluster=staging", "--annotation=summary=web is slow")

	eventually(t, p, "both alerts in amtool alert query", func() (bool, string) {
		got := queried(t, bin, url, "--active", "--silenced")
		return slices.Equal(got, []string{"DiskFull:suppressed", "HighLatency:active"}), strings.Join(got, ", ")
	})
	if got := queried(t, bin, url); !slices.Equal(got, []string{"HighLatency:active"}) {
		t.Errorf("amtool alert query (active only, as by default): %v", got)
	}
	if got := queried(t, bin, url, "--silenced"); !slices.Equal(got, []string{"DiskFull:suppressed"}) {
		t.Errorf("amtool alert query --silenced: %v", got)
	}
	if got := queried(t, bin, url, "--active", "--silenced", "service=web"); !slices.Equal(got, []string{"HighLatency:active"}) {
		t.Errorf("amtool alert query service=web: %v", got)
	}
	eventually(t, p, "a PagerDuty incident for the alert not silenced", func() (bool, string) {
		evs := events()
		return len(evs) > 0, strings.Join(evs, "; ")
	})
	for _, ev := range events() {
		if strings.Contains(ev, "DiskFull") || strings.Contains(ev, "disk full") {
			t.Errorf("the silenced alert reached PagerDuty: %s", ev)
		}
	}

	p.stop(t)
	p = e.start(t)
	if out := amtool(t, bin, url, "silence", "query", "-q"); strings.TrimSpace(out) != id {
		t.Fatalf("after a restart amtool silence query -q printed %q, want %s", out, id)
	}
	amtool(t, bin, url, "silence", "expire", id)
	if out := amtool(t, bin, url, "silence", "query", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("an expired silence is still listed as active: %q", out)
	}
	if out := amtool(t, bin, url, "silence", "query", "--expired", "-q"); strings.TrimSpace(out) != id {
		t.Errorf("amtool silence query --expired -q printed %q, want %s", out, id)
	}
	eventually(t, p, "the alert no longer silenced", func() (bool, string) {
		got := queried(t, bin, url)
		return slices.Contains(got, "DiskFull:active"), strings.Join(got, ", ")
	})
}

// An alert added with amtool alert add (no endsAt) resolves once
// ingest.resolve_timeout passes without it being posted again, and its
// incident closes.
func TestResolveTimeoutClosesIncident(t *testing.T) {
	bin := testenv.Amtool(t)
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), `ingest:
  resolve_timeout: 2s
correlate:
  group_wait: 1s
  resolve_hold: 1s
`)
	p := e.start(t)
	url := "http://" + e.addr
	amtool(t, bin, url, "alert", "add", "alertname=BackupFailed", "service=backup")
	q := &quellProc{url: url}
	q.waitIncidents(t, "open", "an open incident", func(incs []quell.Incident) bool { return len(incs) == 1 })
	start := time.Now()
	q.waitIncidents(t, "resolved", "the incident closed by the resolve timeout", func(incs []quell.Incident) bool {
		return len(incs) == 1 && incs[0].Alerts[0].Status == quell.Resolved
	})
	if took := time.Since(start); took < time.Second {
		t.Errorf("closed %s after it opened: before the resolve timeout", took)
	}
	if p.exited() {
		t.Fatal("quell exited")
	}
}
