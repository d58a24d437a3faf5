package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/budget"
)

// fakeBus records each Publish call, or fails them all with err.
type fakeBus struct {
	batches [][]quell.Alert
	err     error
}

func (b *fakeBus) Publish(_ context.Context, alerts []quell.Alert) error {
	if b.err != nil {
		return b.err
	}
	b.batches = append(b.batches, alerts)
	return nil
}

func newTestHandler(t *testing.T, cfg Config, pub *fakeBus) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := NewHandler(cfg, pub, dedupe.NewFingerprinter(nil), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return now }
	return h, reg
}

func TestHandler(t *testing.T) {
	am := fixture(t, "alertmanager_webhook_zulip_alert.json")
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		respBody           string // exact, or a prefix of the error when it ends in "…"
		published          int    // alerts in the one Publish call, -1 for no call
		reason             string // rejected reason counted, if any
	}{
		{"webhook", "POST", PathAlertmanager, am, 200, `{"accepted":2}`, 2, ""},
		{"v2 answers empty like Alertmanager", "POST", PathAlertsV2, fixture(t, "amtool_v2_alerts_firing_captured.json"), 200, ``, 1, ""},
		{"datadog", "POST", PathDatadog, fixture(t, "datadog_webhook_default_plus_custom_slarops.json"), 200, `{"accepted":1}`, 1, ""},
		{"splunk", "POST", PathSplunk, fixture(t, "splunk_webhook_official_docs_example.json"), 200, `{"accepted":1}`, 1, ""},
		{"no alerts publishes nothing", "POST", PathAlertmanager, []byte(`{"alerts":[]}`), 200, `{"accepted":0}`, -1, ""},
		{"malformed", "POST", PathAlertmanager, []byte(`{"alerts":[`), 400, `{"error":"alerts[0]: invalid JSON at byte 11: unexpected end of body"}`, -1, reasonSyntax},
		{"invalid", "POST", PathAlertsV2, []byte(`[{"labels":{}}]`), 400, `{"error":"[0]: alert has no labels…`, -1, reasonInvalid},
		{"pagerduty", "POST", PathDatadog, fixture(t, "pagerduty_events_v2_trigger_official_docs.json"), 400, `{"error":"not a Datadog webhook: the body looks like a PagerDuty Events API v2 event…`, -1, reasonInvalid},
		{"annotation value too large", "POST", PathAlertsV2, []byte(`[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"},"annotations":{"description":"` + strings.Repeat("x", 17000) + `"}}]`),
			400, `{"error":"alerts[1].annotations.description: value is 17000 bytes, more than ingest.max_annotation_value_bytes (16384)…`, -1, reasonAnnotationTooLarge},
		{"annotations too large in all", "POST", PathAlertsV2, []byte(`[{"labels":{"alertname":"A"},"annotations":{` + manyAnnotations(5, 15000) + `}}]`),
			400, `{"error":"alerts[0].annotations: more than 65536 bytes in all (ingest.max_annotation_bytes)…`, -1, reasonAnnotationTooLarge},
		{"startsAt far ahead", "POST", PathAlertsV2, []byte(`[{"labels":{"alertname":"A"},"startsAt":"9999-12-31T00:00:00Z"}]`),
			400, `{"error":"alerts[0].startsAt: 9999-12-31T00:00:00Z is more than 1h0m0s ahead of quell's clock…`, -1, reasonTimeRange},
		{"startsAt before 1970", "POST", PathAlertmanager, []byte(`{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":"1969-07-20T20:17:00Z"}]}`),
			400, `{"error":"alerts[0].startsAt: 1969-07-20T20:17:00Z is before 1970"}`, -1, reasonTimeRange},
		{"GET", "GET", PathSplunk, nil, 405, `{"error":"method GET not allowed: POST the alerts"}`, -1, reasonMethod},
		{"unknown path", "POST", "/webhooks/nagios", am, 404, `{"error":"no ingest route /webhooks/nagios…`, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakeBus{}
			h, reg := newTestHandler(t, DefaultConfig(), pub)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body)))

			if rec.Code != tc.status {
				t.Errorf("status %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			got := strings.TrimSuffix(rec.Body.String(), "\n")
			if p, ok := strings.CutSuffix(tc.respBody, "…"); ok && !strings.HasPrefix(got, p) || !ok && got != tc.respBody {
				t.Errorf("body %s, want %s", got, tc.respBody)
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
			switch {
			case tc.published < 0 && len(pub.batches) != 0:
				t.Errorf("%d Publish calls, want none", len(pub.batches))
			case tc.published >= 0 && (len(pub.batches) != 1 || len(pub.batches[0]) != tc.published):
				t.Errorf("published %v, want one call with %d alerts", pub.batches, tc.published)
			}
			for _, b := range pub.batches {
				for _, a := range b {
					if a.Fingerprint == 0 || !a.ReceivedAt.Equal(now) {
						t.Errorf("published alert without fingerprint or receive time: %+v", a)
					}
				}
			}
			if tc.reason != "" {
				format := h.routes[tc.path].format
				if n := counter(t, h.m.rejected.WithLabelValues(format, tc.reason)); n != 1 {
					t.Errorf("rejected{%s,%s} = %v, want 1", format, tc.reason, n)
				}
			}
			if tc.published > 0 {
				if n := counter(t, h.m.accepted.WithLabelValues(h.routes[tc.path].format)); n != float64(tc.published) {
					t.Errorf("accepted = %v, want %d", n, tc.published)
				}
			}
			if tc.status != 404 {
				if n := observations(t, reg, "quell_ingest_request_duration_seconds"); n != 1 {
					t.Errorf("%d request durations observed, want 1", n)
				}
			}
		})
	}
}

// manyAnnotations is n annotations of size bytes each, as JSON members.
func manyAnnotations(n, size int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"a%d":"%s"`, i, strings.Repeat("x", size))
	}
	return b.String()
}

func TestHandlerPublishFailure(t *testing.T) {
	pub := &fakeBus{err: errors.New("kafka: not enough in-sync replicas")}
	h, _ := newTestHandler(t, DefaultConfig(), pub)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(fixture(t, "alertmanager_webhook_zulip_alert.json"))))
	var resp errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q, body %s (%v); want 503 with Retry-After and a JSON error", rec.Code, rec.Header().Get("Retry-After"), rec.Body, err)
	}
	if !strings.Contains(resp.Error, "none was accepted") || !strings.Contains(resp.Error, "in-sync replicas") {
		t.Errorf("error %q does not say nothing was accepted and why", resp.Error)
	}
	if n := counter(t, h.m.accepted.WithLabelValues("alertmanager")); n != 0 {
		t.Errorf("accepted = %v after a failed publish", n)
	}
	if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonPublish)); n != 1 {
		t.Errorf("rejected publish_failed = %v, want 1", n)
	}
}

// TestHandlerMemoryBudget: with memory past its budget a request gets 503
// with Retry-After, counted as "memory", and nothing is published.
func TestHandlerMemoryBudget(t *testing.T) {
	t.Cleanup(func() { debug.SetMemoryLimit(math.MaxInt64) })
	pub := &fakeBus{}
	h, _ := newTestHandler(t, DefaultConfig(), pub)
	runtime.GC()                      // what is live is known after a collection
	h.UseBudget(budget.New(32 << 10)) // far less than this test process holds
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(fixture(t, "alertmanager_webhook_zulip_alert.json"))))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "memory_limit") {
		t.Fatalf("status %d, Retry-After %q, body %s; want 503 with Retry-After naming memory_limit", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if len(pub.batches) != 0 {
		t.Errorf("%d batches published past the budget", len(pub.batches))
	}
	if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonMemory)); n != 1 {
		t.Errorf("rejected memory = %v, want 1", n)
	}
}

func TestHandlerTooLarge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 4096
	body := webhookBody(10) // about 9 KiB
	for _, chunked := range []bool{false, true} {
		pub := &fakeBus{}
		h, _ := newTestHandler(t, cfg, pub)
		req := httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body))
		if chunked {
			req.ContentLength = -1 // unknown length: the limit must hold while reading
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 413 || !strings.Contains(rec.Body.String(), `"error":"body larger than 4096 bytes`) || len(pub.batches) != 0 {
			t.Errorf("chunked=%v: status %d body %s, %d publishes; want 413 and nothing published", chunked, rec.Code, rec.Body, len(pub.batches))
		}
		if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonTooLarge)); n != 1 {
			t.Errorf("rejected too_large = %v, want 1", n)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxBodyBytes = 0 }, "ingest.max_body_bytes"},
		{func(c *Config) { c.SplunkResolveTimeout = time.Second }, "ingest.splunk_resolve_timeout"},
		{func(c *Config) { c.MaxAlertsPerRequest = 0 }, "ingest.max_alerts_per_request"},
		{func(c *Config) { c.MaxLabelValueBytes = 1 }, "ingest.max_label_value_bytes"},
		{func(c *Config) { c.MaxConcurrentRequests = 0 }, "ingest.max_concurrent_requests"},
		{func(c *Config) { c.RatePerClient, c.RateBurst = 10, 0 }, "ingest.rate_burst"},
		{func(c *Config) { c.MinBodyRate = 10 }, "ingest.min_body_rate"},
		{func(c *Config) { c.MaxAnnotationBytes = 10 }, "ingest.max_annotation_bytes"},
		{func(c *Config) { c.MaxFutureSkew = 0 }, "ingest.max_future_skew"},
		{func(c *Config) { c.ReadHeaderTimeout = 0 }, "ingest.read_header_timeout"},
		{func(c *Config) { c.TLSCertFile = "cert.pem" }, "ingest.tls_key_file"},
		{func(c *Config) { c.WebhookTokenFiles = []string{"/nonexistent/tokens"} }, "ingest.webhook_token_files"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		_, err := NewHandler(c, &fakeBus{}, dedupe.NewFingerprinter(nil), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewHandler: error %v, want one naming %s", err, tc.want)
		}
	}
}

// counter reads a counter's value (client_golang's testutil would add a module).
func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// observations counts what the histogram family name observed in reg.
func observations(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// A v2 alert posted without endsAt (amtool alert add, scripts) fires for
// resolve_timeout from its start, as Alertmanager has it; one with endsAt
// keeps it.
func TestResolveTimeout(t *testing.T) {
	pub := &fakeBus{}
	cfg := DefaultConfig()
	cfg.ResolveTimeout = 3 * time.Minute
	h, _ := newTestHandler(t, cfg, pub)
	body := `[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"},"endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}]`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertsV2, strings.NewReader(body)))
	if rec.Code != 200 || len(pub.batches) != 1 {
		t.Fatalf("status %d, %d batches: %s", rec.Code, len(pub.batches), rec.Body)
	}
	got := pub.batches[0]
	if !got[0].EndsAt.Equal(now.Add(3*time.Minute)) || got[0].Status != quell.Firing {
		t.Errorf("without endsAt: ends %s (%s), want %s, firing", got[0].EndsAt, got[0].Status, now.Add(3*time.Minute))
	}
	if !got[1].EndsAt.Equal(now.Add(time.Hour)) {
		t.Errorf("with endsAt: ends %s, want %s", got[1].EndsAt, now.Add(time.Hour))
	}
}
