package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quellhq/quell/ingest"
)

// The abuse test's settings: small limits, so a few seconds of flood reach
// every one of them.
const (
	abuseConfig = `correlate:
  group_wait: 1s
  resolve_hold: 2s
ingest:
  webhook_token_files: [%s]
  max_body_bytes: 65536
  max_alerts_per_request: 50
  max_labels_per_alert: 32
  max_label_value_bytes: 1024
  max_concurrent_requests: %d
  max_bodies_per_client: %d
  rate_per_client: 100
  rate_burst: 50
`
	// One token a sender: each has its own rate bucket.
	validToken, noiseToken, junkToken = "valid-0123456789abcdef", "noise-0123456789abcdef", "junk-0123456789abcdef"
	abuseFor                          = 12 * time.Second
	abuseSlots                        = 6 // ingest.max_concurrent_requests
	abuseBodies                       = 8 // ingest.max_bodies_per_client
	lorisConns                        = 20
	// maxRSS bounds quell's peak resident memory under the flood: bodies
	// (6 slots of 64 KiB), the tens of thousands of noise alerts the
	// correlator then holds, and the Go runtime's slack. (About 150 MiB
	// was measured; the collector waits for 3x the live heap, see budget.)
	maxRSS = 256 << 20
	// lorisHold bounds how long a client trickling headers holds a
	// connection: serve's ReadHeaderTimeout (10 s) and a margin.
	lorisHold = 13 * time.Second
)

// TestAbuse floods a real quell serve with malformed, oversized, unauthenticated,
// high-cardinality and slow requests while valid alerts flow, then checks that
// every valid alert answered 2xx is in an incident, memory stayed bounded,
// and /metrics counts every rejection the clients saw, by reason.
func TestAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a real quell for about 30 s")
	}
	bin := buildQuell(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	cfg := filepath.Join(dir, "quell.yaml")
	writeFile(t, tokens, "# one token a sender\n"+validToken+"\n"+noiseToken+"\n"+junkToken+"\n")
	writeFile(t, cfg, fmt.Sprintf(abuseConfig, tokens, abuseSlots, abuseBodies))
	p := start(t, "quell", bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	p.wantCleanExit = true
	var addr string
	eventually(t, p, "quell to log its listen address", func() (bool, string) {
		if m := listenRE.FindStringSubmatch(p.out.String()); m != nil {
			addr = m[1]
		}
		return addr != "", "no \"quell serving\" line yet"
	})
	base := "http://" + addr
	eventually(t, p, "quell to be ready", func() (bool, string) { return httpOK(base + "/readyz") })

	a := &abuse{base: base, seen: map[string]int{}, accepted: map[string]bool{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		slow: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}}
	ctx, cancel := context.WithTimeout(context.Background(), abuseFor)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { a.valid(ctx, i) })
	}
	for range abuseBodies + 2 {
		wg.Go(func() { a.slowBody(ctx) })
	}
	wg.Go(func() { a.noise(ctx) })
	wg.Go(func() { a.junk(ctx) })
	wg.Go(func() { a.junk(ctx) })
	wg.Go(func() { a.unauthenticated(ctx) })
	held := make(chan time.Duration, lorisConns)
	for range lorisConns {
		wg.Go(func() { held <- a.loris(t, addr) })
	}
	wg.Wait()
	close(held)
	longest := time.Duration(0)
	for d := range held {
		longest = max(longest, d)
	}
	if longest > lorisHold {
		t.Errorf("a client trickling its headers held its connection %s, want at most %s", longest, lorisHold)
	}
	t.Logf("client saw: accepted %d valid alerts, rejections %v, %d requests without an answer; slow-loris held at most %s",
		len(a.accepted), a.seen, a.lost, longest.Round(time.Millisecond))
	if len(a.accepted) < 100 {
		t.Errorf("only %d valid alerts were accepted during the flood, want at least 100", len(a.accepted))
	}

	a.checkIncidents(t, p)
	checkMemory(t, p)
	a.checkMetrics(t)
}

// abuse is the flood's clients and what they saw.
type abuse struct {
	base   string
	client *http.Client
	slow   *http.Client // from another address, 127.0.0.2

	mu       sync.Mutex
	seen     map[string]int  // rejections answered, by the reason quell counts
	lost     int             // requests without an answer (connection cut)
	accepted map[string]bool // abuse_id of valid alerts answered 2xx
	nextID   int
}

// send posts body to path with the token set by auth, and records the
// answer; it returns the status, 0 when there was none.
func (a *abuse) send(ctx context.Context, path string, body io.Reader, auth func(*http.Request)) (int, http.Header) {
	return a.sendWith(ctx, a.client, path, body, auth)
}

// sendWith is send through client c.
func (a *abuse) sendWith(ctx context.Context, c *http.Client, path string, body io.Reader, auth func(*http.Request)) (int, http.Header) {
	req, err := http.NewRequestWithContext(ctx, "POST", a.base+path, body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	resp, err := c.Do(req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.lost++ // quell may have counted it, even when the flood's end cancelled it
		return 0, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if r := reasonOf(resp.StatusCode, string(msg)); r != "" {
		a.seen[r]++
	}
	return resp.StatusCode, resp.Header
}

// reasonOf is the rejection reason quell counts for an answer ("" for 2xx).
func reasonOf(status int, body string) string {
	var e struct{ Error string }
	json.Unmarshal([]byte(body), &e)
	switch {
	case status/100 == 2:
		return ""
	case status == 401:
		return "unauthorized"
	case status == 429:
		return "rate_limited"
	case status == 413:
		return "too_large"
	case status == 503 && (strings.Contains(e.Error, "max_concurrent_requests") || strings.Contains(e.Error, "max_bodies_per_client")):
		return "overloaded"
	case status == 503:
		return "publish_failed"
	case strings.Contains(e.Error, "invalid JSON"):
		return "malformed_json"
	case strings.Contains(e.Error, "max_alerts_per_request"):
		return "too_many_alerts"
	case strings.Contains(e.Error, "max_labels_per_alert"):
		return "too_many_labels"
	case strings.Contains(e.Error, "max_label_"):
		return "label_too_large"
	}
	return fmt.Sprintf("unexpected %d %s", status, e.Error)
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// validBatch is n firing v2 alerts, each with a new abuse_id (a label, so it
// shows in incidents; also an annotation, as senders put ids there).
func (a *abuse) validBatch(n int, service string) ([]byte, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var alerts []amAlert
	var ids []string
	for range n {
		a.nextID++
		id := strconv.Itoa(a.nextID)
		ids = append(ids, id)
		alerts = append(alerts, amAlert{
			Labels:      map[string]string{"alertname": "AbuseValid", "cluster": "valid", "service": service, "abuse_id": id},
			Annotations: map[string]string{"id": id},
		})
	}
	b, _ := json.Marshal(alerts)
	return b, ids
}

// valid sends valid alerts, as a well-behaved sender would: the token in
// each of the accepted ways, and a refused batch resent after Retry-After.
func (a *abuse) valid(ctx context.Context, worker int) {
	auths := []func(*http.Request){
		bearer(validToken),
		func(r *http.Request) { r.SetBasicAuth("alertmanager", validToken) },
		func(r *http.Request) { r.URL.RawQuery = "token=" + validToken },
	}
	for n := 0; ctx.Err() == nil; n++ {
		body, ids := a.validBatch(1+n%5, "checkout")
		for ctx.Err() == nil {
			status, h := a.send(ctx, ingest.PathAlertsV2, bytes.NewReader(body), auths[(worker+n)%len(auths)])
			if status/100 == 2 {
				a.accept(ids)
				break
			}
			wait := 100 * time.Millisecond
			if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil {
				wait = time.Duration(s) * time.Second
			}
			sleep(ctx, wait)
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

func (a *abuse) accept(ids []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		a.accepted[id] = true
	}
}

// slowBody trickles a valid body over seconds from its own address: more
// of them than max_bodies_per_client overload that address (never the
// others, whose requests take slots only once their bodies arrived). Its
// alerts count as valid when answered 2xx.
func (a *abuse) slowBody(ctx context.Context) {
	body, ids := a.validBatch(2, "slow")
	for ctx.Err() == nil {
		pr, pw := io.Pipe()
		go func() {
			step := len(body)/8 + 1
			for i := 0; i < len(body); i += step {
				sleep(ctx, 400*time.Millisecond)
				if _, err := pw.Write(body[i:min(len(body), i+step)]); err != nil {
					return // refused before the body was read
				}
			}
			pw.Close()
		}()
		status, _ := a.sendWith(ctx, a.slow, ingest.PathAlertsV2, pr, bearer(noiseToken))
		pr.Close()
		if status/100 == 2 {
			a.accept(ids)
		}
		if status != http.StatusServiceUnavailable {
			return
		}
	}
}

// noise sends many distinct alerts (unique labels), some with a huge label
// value, too many labels or too many alerts.
func (a *abuse) noise(ctx context.Context) {
	for n := 0; ctx.Err() == nil; n++ {
		var alerts []amAlert
		count := 50
		if n%10 == 9 {
			count = 51 // one more than max_alerts_per_request
		}
		for i := range count {
			l := map[string]string{"alertname": "Noise", "cluster": "noise", "service": "noise", "id": fmt.Sprintf("%d-%d", n, i)}
			switch {
			case n%10 == 3 && i == 7:
				l["blob"] = strings.Repeat("x", 1025)
			case n%10 == 6 && i == 0:
				for k := range 40 {
					l["extra"+strconv.Itoa(k)] = "v"
				}
			}
			alerts = append(alerts, amAlert{Labels: l})
		}
		b, _ := json.Marshal(alerts)
		a.send(ctx, ingest.PathAlertsV2, bytes.NewReader(b), bearer(noiseToken))
		sleep(ctx, 20*time.Millisecond)
	}
}

// junk sends malformed JSON and oversized bodies (with and without a
// Content-Length) as fast as it can, so it also meets the rate limit.
func (a *abuse) junk(ctx context.Context) {
	big := bytes.Repeat([]byte(" "), 100<<10)
	for n := 0; ctx.Err() == nil; n++ {
		var body io.Reader
		switch n % 4 {
		case 0:
			body = strings.NewReader(`{"alerts":[{"labels":{"a":`)
		case 1:
			body = strings.NewReader("\x00\xff{]garbage")
		case 2:
			body = bytes.NewReader(big)
		case 3:
			body = io.MultiReader(bytes.NewReader(big)) // no length: chunked
		}
		a.send(ctx, ingest.PathAlertmanager, body, bearer(junkToken))
	}
}

// unauthenticated sends valid bodies without a token, or with a wrong one.
func (a *abuse) unauthenticated(ctx context.Context) {
	body, _ := json.Marshal([]amAlert{{Labels: map[string]string{"alertname": "Intruder"}}})
	for n := 0; ctx.Err() == nil; n++ {
		auth := func(*http.Request) {}
		if n%2 == 1 {
			auth = bearer(validToken + "x")
		}
		a.send(ctx, ingest.PathAlertsV2, bytes.NewReader(body), auth)
		sleep(ctx, 2*time.Millisecond)
	}
}

// loris trickles a header line a byte at a time and returns how long quell
// kept the connection open.
func (a *abuse) loris(t *testing.T, addr string) time.Duration {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("slow-loris dial: %v", err)
		return 0
	}
	defer conn.Close()
	start := time.Now()
	go func() {
		if _, err := io.WriteString(conn, "POST "+ingest.PathAlertmanager+" HTTP/1.1\r\nHost: quell\r\nX-Slow: "); err != nil {
			return
		}
		for time.Since(start) < 2*lorisHold {
			time.Sleep(500 * time.Millisecond)
			if _, err := conn.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(start.Add(2 * lorisHold))
	io.Copy(io.Discard, conn) // until quell closes it
	return time.Since(start)
}

// checkIncidents waits until every valid alert answered 2xx is in an incident.
func (a *abuse) checkIncidents(t *testing.T, p *proc) {
	t.Helper()
	eventually(t, p, "every accepted valid alert in an incident", func() (bool, string) {
		incs, err := listIncidents(a.base, "")
		if err != nil {
			return false, err.Error()
		}
		found := map[string]bool{}
		for _, inc := range incs {
			for _, al := range inc.Alerts {
				if id := al.Labels["abuse_id"]; id != "" {
					found[id] = true
				}
			}
		}
		var missing []string
		for id := range a.accepted {
			if !found[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d accepted valid alerts in no incident, e.g. %v", len(missing), len(a.accepted), missing[:min(len(missing), 10)])
	})
}

// checkMemory reads quell's peak resident memory from /proc.
func checkMemory(t *testing.T, p *proc) {
	t.Helper()
	hwm := peakRSS(t, p)
	t.Logf("quell peak RSS %d MiB", hwm>>20)
	if hwm > maxRSS {
		t.Errorf("quell peak RSS is %d MiB, above the bound of %d MiB", hwm>>20, maxRSS>>20)
	}
}

// peakRSS is p's peak resident memory (VmHWM) in bytes.
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading quell's memory: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc status %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// checkMetrics compares quell's rejection counts with what the clients saw.
// A request whose answer was lost (connection cut) may be counted by quell
// yet seen by no client, so each reason may exceed the clients' count by the
// lost requests, and no more.
func (a *abuse) checkMetrics(t *testing.T) {
	t.Helper()
	extra := 0.0
	for _, reason := range []string{"unauthorized", "rate_limited", "too_large", "overloaded", "malformed_json",
		"too_many_alerts", "too_many_labels", "label_too_large", "publish_failed", "invalid", "read_error", "method_not_allowed"} {
		got := metricSum(t, a.base, "quell_ingest_requests_rejected_total", `reason="`+reason+`"`)
		want := float64(a.seen[reason])
		if got < want {
			t.Errorf("quell_ingest_requests_rejected_total{reason=%q} = %v, but the clients saw %v", reason, got, want)
		}
		extra += got - want
		delete(a.seen, reason)
	}
	if extra > float64(a.lost) {
		t.Errorf("quell counts %v rejections more than the clients saw, but only %d requests went unanswered", extra, a.lost)
	}
	if len(a.seen) > 0 {
		t.Errorf("answers quell has no reason for: %v", a.seen)
	}
	for _, reason := range []string{"unauthorized", "rate_limited", "overloaded", "too_large", "malformed_json", "too_many_alerts", "too_many_labels", "label_too_large"} {
		if metricSum(t, a.base, "quell_ingest_requests_rejected_total", `reason="`+reason+`"`) == 0 {
			t.Errorf("the flood met no %s rejection: it does not exercise that limit", reason)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
