package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/testenv"
)

// Short timings, so the test waits seconds rather than quell's and
// Alertmanager's production minutes.
const (
	// quell holds decisions for group_wait and closes an incident resolve_hold
	// after its last alert resolved.
	quellConfig = "correlate:\n  group_wait: 1s\n  resolve_hold: 2s\n"
	// amConfig routes everything to quell's webhook, one notification per
	// service. It has no http_config: quell asks for no credentials unless
	// configured to (see TestAlertmanagerWebhookAuth).
	amConfig = `route:
  receiver: quell
  group_by: [service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: quell
    webhook_configs:
      - url: %s
        send_resolved: true
`
	// waitFor bounds every wait for the other processes: generous for a
	// loaded CI machine, yet a hang fails the test instead of the run.
	waitFor = 30 * time.Second
)

// TestAlertmanagerWebhook runs quell serve and a real Alertmanager whose
// webhook receiver is quell, posts alerts to Alertmanager's own API, and
// checks the incidents quell forms from the notifications, then their
// resolution.
func TestAlertmanagerWebhook(t *testing.T) {
	amBin := testenv.Alertmanager(t) // first: a skip should not wait for a build
	q := startQuell(t, buildQuell(t))
	am := startAlertmanager(t, amBin, q.url+ingest.PathAlertmanager)

	// Whole seconds: Alertmanager passes times through, and quell's must equal them.
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	alerts := []amAlert{
		{Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "job": "checkout-api", "namespace": "shop",
			"cluster": "prod-eu-1", "instance": "10.0.1.15:8080", "pod": "checkout-api-7d9f-x2k", "severity": "critical"}},
		{Labels: map[string]string{"alertname": "HighLatency", "service": "checkout", "job": "checkout-api", "namespace": "shop",
			"cluster": "prod-eu-1", "instance": "10.0.1.16:8080", "pod": "checkout-api-7d9f-m4p", "severity": "warning"}},
		// Same cluster (quell's scope), but no link label value in common.
		{Labels: map[string]string{"alertname": "HighErrorRate", "service": "billing", "job": "billing-api", "namespace": "payments",
			"cluster": "prod-eu-1", "instance": "10.0.2.7:8080", "pod": "billing-api-5c4b-qq1", "severity": "warning"}},
	}
	for i := range alerts {
		alerts[i].StartsAt = started
		alerts[i].Annotations = map[string]string{"summary": alerts[i].Labels["alertname"] + " on " + alerts[i].Labels["service"]}
	}
	am.post(t, alerts)

	incs := q.waitIncidents(t, "", "all 3 alerts in incidents", func(incs []quell.Incident) bool { return countAlerts(incs, "") == 3 })
	checkout, billing := byService(t, incs)
	if got := len(checkout.Alerts); got != 2 {
		t.Errorf("checkout incident %s has %d alerts, want both checkout alerts: %+v", checkout.ID, got, checkout.Alerts)
	}
	if got := len(billing.Alerts); got != 1 {
		t.Errorf("billing incident %s has %d alerts, want the billing alert alone: %+v", billing.ID, got, billing.Alerts)
	}
	if checkout.Severity != quell.Critical || billing.Severity != quell.Warning {
		t.Errorf("severities: checkout %q, billing %q; want critical (its worst alert) and warning", checkout.Severity, billing.Severity)
	}
	checkReasons(t, checkout, "opened the incident", "shares service=checkout")
	checkReasons(t, billing, "opened the incident")
	for _, inc := range incs {
		for _, a := range inc.Alerts {
			if a.Source != ingest.SourceAlertmanager || a.Status != quell.Firing || !a.StartsAt.Equal(started) {
				t.Errorf("incident %s alert %v: source %q status %q startsAt %s; want alertmanager, firing, %s",
					inc.ID, a.Labels, a.Source, a.Status, a.StartsAt, started)
			}
		}
	}

	// Resolve them as Prometheus does: the same alerts with an end in the past.
	ended := time.Now().Add(-time.Second).UTC().Truncate(time.Second)
	for i := range alerts {
		alerts[i].EndsAt = ended
	}
	am.post(t, alerts)
	resolved := q.waitIncidents(t, "resolved", "both incidents resolved", func(incs []quell.Incident) bool { return len(incs) == 2 })
	for _, inc := range resolved {
		if inc.ResolvedAt.IsZero() {
			t.Errorf("resolved incident %s has no resolvedAt", inc.ID)
		}
		for _, a := range inc.Alerts {
			if a.Status != quell.Resolved || !a.EndsAt.Equal(ended) {
				t.Errorf("incident %s alert %v: status %q endsAt %s; want resolved at %s", inc.ID, a.Labels, a.Status, a.EndsAt, ended)
			}
		}
	}
	if got := countAlerts(resolved, quell.Resolved); got != 3 {
		t.Errorf("resolved incidents hold %d resolved alerts, want 3: %+v", got, resolved)
	}

	// No http_config was needed: every notification went through, none was refused.
	if n := metricSum(t, am.url, "alertmanager_notifications_total", `integration="webhook"`); n < 2 {
		t.Errorf("Alertmanager sent %v webhook notifications, want at least 2 (firing and resolved)", n)
	}
	if n := metricSum(t, am.url, "alertmanager_notifications_failed_total", `integration="webhook"`); n != 0 {
		t.Errorf("Alertmanager counts %v failed webhook notifications to quell, want 0", n)
	}
	if n := metricSum(t, q.url, "quell_ingest_requests_rejected_total", `source="alertmanager"`); n != 0 {
		t.Errorf("quell rejected %v Alertmanager webhook requests, want 0", n)
	}
}

// amAlert is one element of Alertmanager's POST /api/v2/alerts body.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

// byService picks the incident of each service; there must be exactly those two.
func byService(t *testing.T, incs []quell.Incident) (checkout, billing quell.Incident) {
	t.Helper()
	if len(incs) != 2 {
		t.Fatalf("got %d incidents, want 2 (checkout, billing): %+v", len(incs), incs)
	}
	for _, inc := range incs {
		switch svc := inc.Alerts[0].Labels["service"]; svc {
		case "checkout":
			checkout = inc
		case "billing":
			billing = inc
		default:
			t.Fatalf("incident %s opened by an alert of service %q: %+v", inc.ID, svc, inc)
		}
	}
	if checkout.ID == "" || billing.ID == "" {
		t.Fatalf("want one checkout and one billing incident, got %+v", incs)
	}
	return checkout, billing
}

// checkReasons wants each alert's reason to contain the matching want, in any order.
func checkReasons(t *testing.T, inc quell.Incident, want ...string) {
	t.Helper()
	got := reasons(inc)
	for _, w := range want {
		found := false
		for i, r := range got {
			if strings.Contains(r, w) {
				got = append(got[:i], got[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Errorf("incident %s: no alert's reason contains %q; reasons: %q", inc.ID, w, reasons(inc))
		}
	}
}

func reasons(inc quell.Incident) []string {
	var r []string
	for _, a := range inc.Alerts {
		r = append(r, a.Reason)
	}
	return r
}

func countAlerts(incs []quell.Incident, status quell.Status) int {
	n := 0
	for _, inc := range incs {
		for _, a := range inc.Alerts {
			if status == "" || a.Status == status {
				n++
			}
		}
	}
	return n
}

// buildQuell builds this command, as CI would ship it.
func buildQuell(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "quell")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build of quell failed: %v\n%s", err, out)
	}
	return bin
}

type quellProc struct{ url string }

var listenRE = regexp.MustCompile(`msg="quell serving" listen=(\S+)`)

// startQuell runs quell serve on a port the kernel picks, and reads the port
// from its log: no window in which another process can take it.
func startQuell(t *testing.T, bin string, args ...string) *quellProc {
	t.Helper()
	return startQuellConfig(t, bin, quellConfig, args...)
}

// startQuellConfig is startQuell with the given configuration file.
func startQuellConfig(t *testing.T, bin, config string, args ...string) *quellProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "quell.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "quell", bin, append([]string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, args...)...)
	p.wantCleanExit = true // SIGTERM drains; anything else is a bug
	var addr string
	eventually(t, p, "quell to log its listen address", func() (bool, string) {
		m := listenRE.FindStringSubmatch(p.out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil, "no \"quell serving\" line yet"
	})
	q := &quellProc{url: "http://" + addr}
	eventually(t, p, "quell to be ready", func() (bool, string) { return httpOK(q.url + "/readyz") })
	return q
}

// waitIncidents polls GET /api/v1/incidents?status=status until ok holds.
func (q *quellProc) waitIncidents(t *testing.T, status, what string, ok func([]quell.Incident) bool) []quell.Incident {
	t.Helper()
	return q.waitIncidentsStatus(t, waitFor, status, what, ok)
}

// waitIncidentsFor waits up to d for all incidents to satisfy ok.
func (q *quellProc) waitIncidentsFor(t *testing.T, d time.Duration, what string, ok func([]quell.Incident) bool) []quell.Incident {
	t.Helper()
	return q.waitIncidentsStatus(t, d, "", what, ok)
}

func (q *quellProc) waitIncidentsStatus(t *testing.T, d time.Duration, status, what string, ok func([]quell.Incident) bool) []quell.Incident {
	t.Helper()
	var incs []quell.Incident
	eventuallyWithin(t, nil, d, what, func() (bool, string) {
		var err error
		if incs, err = listIncidents(q.url, status); err != nil {
			return false, err.Error()
		}
		b, _ := json.MarshalIndent(incs, "", "  ")
		return ok(incs), "incidents: " + string(b)
	})
	return incs
}

// listIncidents reads every page of GET /api/v1/incidents?status=status.
func listIncidents(base, status string) ([]quell.Incident, error) {
	var all []quell.Incident
	for cursor := ""; ; {
		var page struct {
			Incidents []quell.Incident `json:"incidents"`
			Next      string           `json:"next"`
		}
		if err := getJSONBy(listClient, base+"/api/v1/incidents?limit=1000&status="+status+"&cursor="+cursor, "", &page); err != nil {
			return nil, err
		}
		all = append(all, page.Incidents...)
		if cursor = page.Next; cursor == "" {
			return all, nil
		}
	}
}

type amProc struct{ url string }

// startAlertmanager runs the real Alertmanager, clustering off, notifying webhook.
func startAlertmanager(t *testing.T, bin, webhook string) *amProc {
	t.Helper()
	return startAlertmanagerConfig(t, bin, fmt.Sprintf(amConfig, webhook))
}

// startAlertmanagerConfig runs the real Alertmanager with the given configuration.
func startAlertmanagerConfig(t *testing.T, bin, config string) *amProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := start(t, "alertmanager", bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=debug")
	am := &amProc{url: "http://" + addr}
	eventually(t, p, "Alertmanager to be ready", func() (bool, string) { return httpOK(am.url + "/-/ready") })
	return am
}

// post sends alerts to Alertmanager's API, as Prometheus does.
func (am *amProc) post(t *testing.T, alerts []amAlert) {
	t.Helper()
	b, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	postOK(t, am.url+"/api/v2/alerts", b)
}

// freeAddr returns a loopback address with a port free a moment ago; for a
// process whose real port cannot be read back.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a child process whose output is kept, and shown if the test fails.
type proc struct {
	name          string
	cmd           *exec.Cmd
	out           testenv.Output
	done          chan struct{} // closed once it exited
	wantCleanExit bool
}

func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop asks for a graceful exit, kills after a grace period, and prints the
// output when the test failed.
func (p *proc) stop(t *testing.T) {
	exited := p.exited()
	if !exited {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10s of SIGTERM: killed", p.name)
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	if code := p.cmd.ProcessState.ExitCode(); p.wantCleanExit && (exited || code != 0) {
		t.Errorf("%s: exit code %d (before the test ended: %v), want 0 after SIGTERM", p.name, code, exited)
	}
	if t.Failed() {
		t.Logf("%s output:\n%s", p.name, p.out.String())
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// eventually polls check until it holds, failing after waitFor with its last
// state, or at once when p (if any) exited.
func eventually(t *testing.T, p *proc, what string, check func() (bool, string)) {
	t.Helper()
	eventuallyWithin(t, p, waitFor, what, check)
}

// eventuallyWithin is eventually with its own bound.
func eventuallyWithin(t *testing.T, p *proc, waitFor time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		ok, state := check()
		if ok {
			return
		}
		if p != nil && p.exited() {
			t.Fatalf("waiting for %s: %s exited (%s)", what, p.name, p.cmd.ProcessState)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s; last: %s", what, waitFor, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// listClient waits longer: a page of incidents carries all their alerts,
// megabytes while many clients read at once (TestConcurrentReads: 4-5 s a
// page with 16 readers on an idle two-core machine).
var listClient = &http.Client{Timeout: time.Minute}

// postOK posts a JSON body and fails the test unless the answer is 200.
func postOK(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		answer, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, answer)
	}
}

func httpOK(url string) (bool, string) {
	resp, err := client.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK, fmt.Sprintf("GET %s: %s %s", url, resp.Status, body)
}

func getJSON(url string, v any) error { return getJSONBy(client, url, "", v) }

// getJSONWith is getJSON with a bearer token (none when empty).
func getJSONWith(url, token string, v any) error { return getJSONBy(client, url, token, v) }

// getJSONBy is getJSONWith through c.
func getJSONBy(c *http.Client, url, token string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w in %s", url, err, body)
	}
	return nil
}

// scrape returns what base/metrics serves.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scraping %s/metrics: %v", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scraping %s/metrics: %v", base, err)
	}
	return string(b)
}

// metricSum adds up the samples of metric at base/metrics whose labels
// contain match (a `name="value"` pair); absent counts as 0.
func metricSum(t *testing.T, base, metric, match string) float64 {
	t.Helper()
	sum := 0.0
	for line := range strings.Lines(scrape(t, base)) {
		line = strings.TrimSuffix(line, "\n")
		name, rest, ok := strings.Cut(line, "{")
		if !ok || name != metric || !strings.Contains(rest, match) {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s/metrics: sample %q: %v", base, line, err)
		}
		sum += v
	}
	return sum
}
