package sinks

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quellhq/quell"
)

// receiver answers each request with the next scripted status and records
// what it accepted.
type receiver struct {
	mu       sync.Mutex
	script   []int
	got      []quell.IncidentChange
	requests int
	headers  http.Header
	bodies   [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.headers = req.Header.Clone()
	code := http.StatusOK
	if len(r.script) > 0 {
		code, r.script = r.script[0], r.script[1:]
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "0")
	}
	if code/100 != 2 {
		http.Error(w, "scripted failure", code)
		return
	}
	var c quell.IncidentChange
	body, _ := io.ReadAll(req.Body)
	r.bodies = append(r.bodies, body)
	if err := json.Unmarshal(body, &c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, c)
}

func change(id string, seq uint64) quell.IncidentChange {
	return quell.IncidentChange{Kind: quell.IncidentUpdated, Seq: seq, Incident: quell.Incident{ID: id, Status: quell.IncidentOpen}}
}

func TestWebhookDeliversInOrderRetryingTransientFailures(t *testing.T) {
	rcv := &receiver{script: []int{500, 429, 200, 503, 200}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w, err := NewWebhook(WebhookConfig{Name: "chat", URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer s3cret"}},
		NewDeadLetters(dir), slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Write(ctx, Batch{Changes: []quell.IncidentChange{change("a", 1), change("a", 2), change("b", 1)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rcv.got) != 3 || rcv.got[0].Seq != 1 || rcv.got[1].Seq != 2 || rcv.got[2].Incident.ID != "b" {
		t.Fatalf("received %+v, want a/1, a/2, b/1 in order", rcv.got)
	}
	if rcv.requests != 6 { // 500, 429, ok, 503, ok, ok
		t.Fatalf("%d requests, want 6", rcv.requests)
	}
	if got := rcv.headers.Get("Authorization"); got != "Bearer s3cret" {
		t.Fatalf("configured header not sent: %q", got)
	}
	if got := rcv.headers.Get("Idempotency-Key"); got != "b/1" {
		t.Fatalf("Idempotency-Key %q, want b/1", got)
	}
	if got := testutil.ToFloat64(w.metrics.Retries); got != 3 {
		t.Fatalf("retries metric %v, want 3", got)
	}
	if _, err := os.Stat(NewDeadLetters(dir).Path()); !os.IsNotExist(err) {
		t.Fatal("a dead-letter file exists though everything was delivered")
	}
}

func TestWebhookDeadLettersPermanentFailures(t *testing.T) {
	rcv := &receiver{script: []int{400}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dead := NewDeadLetters(t.TempDir())
	w, err := NewWebhook(WebhookConfig{URL: srv.URL}, dead, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Write(ctx, Batch{Changes: []quell.IncidentChange{change("refused", 1), change("next", 1)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if rcv.requests != 2 || len(rcv.got) != 1 || rcv.got[0].Incident.ID != "next" {
		t.Fatalf("a 400 must not be retried and must not stop the stream: %d requests, got %+v", rcv.requests, rcv.got)
	}
	f, err := os.Open(dead.Path())
	if err != nil {
		t.Fatalf("no dead letter written: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var n int
	for sc.Scan() {
		var dl DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			t.Fatal(err)
		}
		var c quell.IncidentChange
		if err := json.Unmarshal(dl.Item, &c); err != nil || c.Incident.ID != "refused" || dl.Reason == "" {
			t.Fatalf("dead letter %+v: want the refused change with a reason", dl)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}

func TestWebhookGivesUpAfterMaxElapsed(t *testing.T) {
	rcv := &receiver{script: []int{503, 503, 503, 503, 503, 503, 503, 503}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dead := NewDeadLetters(t.TempDir())
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, Delivery: Delivery{MaxElapsed: 500 * time.Millisecond}}, dead, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Write(ctx, Batch{Changes: []quell.IncidentChange{change("down", 1)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.metrics.DeadLetters); got != 1 {
		t.Fatalf("dead letters metric %v, want 1", got)
	}
	if rcv.requests < 2 {
		t.Fatalf("%d requests: a 503 must be retried", rcv.requests)
	}
}

func TestRetryAfter(t *testing.T) {
	if got := retryAfter("7"); got != 7*time.Second {
		t.Fatalf("seconds: %s", got)
	}
	if got := retryAfter(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)); got < 50*time.Second || got > time.Minute {
		t.Fatalf("date: %s", got)
	}
	if got := retryAfter("soon"); got != 0 {
		t.Fatalf("garbage: %s", got)
	}
}

func TestWebhookSignsBodiesWithTheSecret(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
	}{
		{"signed", "hunter2"},
		{"unsigned without a secret", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &receiver{}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			w, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: tc.secret}, NewDeadLetters(t.TempDir()), slog.New(slog.DiscardHandler), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := w.Write(ctx, Batch{Changes: []quell.IncidentChange{change("signed", 1)}}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			got := rcv.headers.Get(SignatureHeader)
			if tc.secret == "" {
				if got != "" {
					t.Fatalf("signature %q sent without a secret", got)
				}
				return
			}
			// What a receiver does: recompute the HMAC over the raw body.
			mac := hmac.New(sha256.New, []byte(tc.secret))
			mac.Write(rcv.bodies[0])
			want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
			if !hmac.Equal([]byte(got), []byte(want)) {
				t.Fatalf("%s: %q, want %q", SignatureHeader, got, want)
			}
		})
	}
}

func TestSignKnownVector(t *testing.T) {
	// RFC 4231 test case 2.
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Fatalf("Sign: %s, want %s", got, want)
	}
}

// A webhook whose receiver hangs fills its queue; /readyz reports it then,
// and not before.
func TestWebhookReadyUntilTheQueueIsFull(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	w, err := NewWebhook(WebhookConfig{URL: srv.URL, Delivery: Delivery{Queue: 2}}, NewDeadLetters(t.TempDir()), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer func() { close(release); w.Close(context.Background()) }()
	if err := w.Ready(); err != nil {
		t.Fatalf("empty queue: %v", err)
	}
	// One change is in flight (the receiver holds it), two wait.
	if err := w.Write(context.Background(), Batch{Changes: []quell.IncidentChange{change("a", 1), change("a", 2), change("a", 3)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("queue full, yet ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
