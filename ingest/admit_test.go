package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

// blockingBus holds every Publish until release is closed.
type blockingBus struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingBus) Publish(ctx context.Context, _ []quell.Alert) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestConcurrencyLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConcurrentRequests = 2
	bus := &blockingBus{entered: make(chan struct{}, 2), release: make(chan struct{})}
	h, err := NewHandler(cfg, bus, dedupe.NewFingerprinter(nil), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "alertmanager_webhook_zulip_alert.json")
	done := make(chan int, 2)
	for range 2 {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body)))
			done <- rec.Code
		}()
	}
	<-bus.entered
	<-bus.entered // both slots held

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body)))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != retryBusy {
		t.Errorf("third request: status %d, Retry-After %q; want 503 with Retry-After %s", rec.Code, rec.Header().Get("Retry-After"), retryBusy)
	}
	if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonOverloaded)); n != 1 {
		t.Errorf("rejected overloaded = %v, want 1", n)
	}
	close(bus.release)
	for range 2 {
		if code := <-done; code != 200 {
			t.Errorf("a request holding a slot got %d, want 200", code)
		}
	}
	rec = httptest.NewRecorder()
	go func() { <-bus.entered }()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body)))
	if rec.Code != 200 {
		t.Errorf("after the slots were released: status %d, want 200", rec.Code)
	}
}

// TestRateLimit: each client, a token or else an IP, has its own bucket.
func TestRateLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RatePerClient, cfg.RateBurst = 0.5, 2
	cfg.WebhookTokenFiles = []string{writeTokens(t, "tokens", "a\nb\n")}
	h, _ := newTestHandler(t, cfg, &fakeBus{})
	body := fixture(t, "alertmanager_webhook_zulip_alert.json")
	send := func(ip, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body))
		req.RemoteAddr = ip + ":4000"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i, tc := range []struct {
		ip, token string
		status    int
	}{
		{"10.0.0.1", "a", 200}, {"10.0.0.2", "a", 200}, {"10.0.0.1", "a", 429}, // token a: burst 2, from any address
		{"10.0.0.1", "b", 200},                                                   // token b has its own bucket
		{"10.0.0.9", "", 401}, {"10.0.0.9", "wrong", 401}, {"10.0.0.9", "", 429}, // no valid token: limited by IP
		{"10.0.0.8", "", 401},
	} {
		rec := send(tc.ip, tc.token)
		if rec.Code != tc.status {
			t.Fatalf("request %d (%s, token %q): status %d, want %d (%s)", i, tc.ip, tc.token, rec.Code, tc.status, rec.Body)
		}
		if tc.status == 429 {
			// Half a token a second, none left: one token is 2 s away.
			if got := rec.Header().Get("Retry-After"); got != "2" {
				t.Errorf("request %d: Retry-After %q, want 2", i, got)
			}
		}
	}
	if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonRateLimited)); n != 2 {
		t.Errorf("rejected rate_limited = %v, want 2", n)
	}
	h.now = func() time.Time { return now.Add(2 * time.Second) }
	if rec := send("10.0.0.3", "a"); rec.Code != 200 {
		t.Errorf("after refilling: status %d, want 200", rec.Code)
	}
}

func TestLimiterSweep(t *testing.T) {
	l := newLimiter(1, 1)
	for i := range minSweep {
		l.allow(strconv.Itoa(i), now)
	}
	// All are empty now; a second later all have refilled and go.
	l.allow("new", now.Add(time.Second))
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after the sweep, want 1: refilled buckets are dropped", len(l.buckets))
	}
	if ok, _ := l.allow("new", now.Add(time.Second)); ok {
		t.Errorf("the swept limiter forgot the bucket in use")
	}
}

// TestRemoteIP keys IPv6 and IPv4 clients without their port.
func TestRemoteIP(t *testing.T) {
	for addr, want := range map[string]string{"[::1]:80": "::1", "10.1.2.3:5": "10.1.2.3", "pipe": "pipe"} {
		if got := remoteIP(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("remoteIP(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestPublishWait: a bus that takes nothing (correlator or sink stuck) gets
// a request answered 503 with Retry-After after publish_wait, not held.
func TestPublishWait(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PublishWait = 50 * time.Millisecond
	bus := &blockingBus{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h, err := NewHandler(cfg, bus, dedupe.NewFingerprinter(nil), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(fixture(t, "alertmanager_webhook_zulip_alert.json"))))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "none was accepted") {
		t.Fatalf("status %d, Retry-After %q, body %s; want 503 saying nothing was accepted", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonPublish)); n != 1 {
		t.Errorf("rejected publish_failed = %v, want 1", n)
	}
}
