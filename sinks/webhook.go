package sinks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
)

// WebhookConfig is one outgoing webhook: every incident change is POSTed to
// URL as JSON (a quell.IncidentChange), in order, retried with backoff.
type WebhookConfig struct {
	Name    string            `yaml:"name"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// Secret, when set, signs every body: X-Quell-Signature carries
	// sha256=<hex HMAC-SHA256 of the body>, so the receiver can tell the
	// request came from quell and was not altered.
	Secret  string        `yaml:"secret"`
	Timeout time.Duration `yaml:"timeout"`
	// MaxElapsed bounds the retries of one change; then it is dead-lettered.
	MaxElapsed time.Duration `yaml:"max_elapsed"`
	// Queue bounds the changes waiting; a full queue pushes back on the correlator.
	Queue int `yaml:"queue"`
}

// SignatureHeader carries the HMAC of a webhook body when a secret is set.
const SignatureHeader = "X-Quell-Signature"

// Validate fills defaults and names the first bad field.
func (c *WebhookConfig) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("webhooks[%s].url is required", c.Name)
	}
	if c.Name == "" {
		c.Name = c.URL
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxElapsed <= 0 {
		c.MaxElapsed = 10 * time.Minute
	}
	if c.Queue <= 0 {
		c.Queue = 10000
	}
	return nil
}

// Webhook delivers incident changes to one URL.
type Webhook struct {
	*Queue
	cfg    WebhookConfig
	client *http.Client
}

// NewWebhook starts the delivery goroutine of one webhook.
func NewWebhook(cfg WebhookConfig, dead *DeadLetters, log *slog.Logger, reg prometheus.Registerer) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Webhook{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}
	m := NewQueueMetrics("webhook", "outgoing webhook", cfg.Name, reg)
	w.Queue = NewQueue(QueueConfig{Name: "webhook " + cfg.Name, Size: cfg.Queue, MaxElapsed: cfg.MaxElapsed},
		w.post, dead, log.With("sink", cfg.Name), m)
	return w, nil
}

// Sign is the value of SignatureHeader for body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one change once.
func (w *Webhook) post(ctx context.Context, c quell.IncidentChange) error {
	body, err := json.Marshal(c)
	if err != nil {
		return &Permanent{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return &Permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "quell")
	req.Header.Set("X-Quell-Event", "incident."+string(c.Kind))
	req.Header.Set("Idempotency-Key", c.Incident.ID+"/"+strconv.FormatUint(c.Seq, 10))
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	if w.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return CheckResponse(resp, w.cfg.URL)
}

// The delivery machinery below is shared by webhooks and the ITSM sinks
// (package sinks/itsm): one queue, one goroutine, so changes go out in the
// order the correlator made them.

// SendFunc sends one change once. A nil error means delivered; a *Permanent
// error dead-letters the change at once; any other error is retried, after
// the wait a *RetryAfter asks for.
type SendFunc func(ctx context.Context, c quell.IncidentChange) error

// RetryAfter is a transient failure whose receiver named how long to wait.
type RetryAfter struct {
	Wait time.Duration
	Err  error
}

func (r *RetryAfter) Error() string { return r.Err.Error() }
func (r *RetryAfter) Unwrap() error { return r.Err }

// CheckResponse turns a response into nil (2xx), a *RetryAfter (408, 429,
// 5xx: worth retrying) or a *Permanent error (any other status), quoting
// the start of the body the receiver explained itself in. what names the
// request in the message. It reads the body only on failure.
func CheckResponse(resp *http.Response, what string) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("%s answered %s: %s", what, resp.Status, bytes.TrimSpace(msg))
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		return &RetryAfter{Wait: retryAfter(resp.Header.Get("Retry-After")), Err: err}
	}
	return &Permanent{err}
}

// QueueConfig sizes a Queue.
type QueueConfig struct {
	// Name is the sink's name in logs and dead letters.
	Name string
	// Size bounds the changes waiting; a full queue pushes back on Write.
	Size int
	// MaxElapsed bounds the retries of one change; then it is dead-lettered.
	MaxElapsed time.Duration
}

// QueueMetrics counts what a Queue did.
type QueueMetrics struct {
	Delivered, Retries, DeadLetters prometheus.Counter
}

// NewQueueMetrics makes and registers quell_<subsystem>_delivered_total,
// _retries_total and _deadletters_total for one sink (reg may be nil);
// what says what kind of sink it is in the help texts.
func NewQueueMetrics(subsystem, what, sink string, reg prometheus.Registerer) QueueMetrics {
	labels := prometheus.Labels{"sink": sink}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "quell_" + subsystem + "_" + name, Help: help, ConstLabels: labels})
	}
	m := QueueMetrics{
		Delivered:   counter("delivered_total", "Incident changes delivered by "+what+" sinks."),
		Retries:     counter("retries_total", "Retried "+what+" requests."),
		DeadLetters: counter("deadletters_total", "Incident changes "+what+" sinks gave up on (see the dead-letter file)."),
	}
	if reg != nil {
		reg.MustRegister(m.Delivered, m.Retries, m.DeadLetters)
	}
	return m
}

// Queue delivers incident changes one at a time, in order, retrying
// transient failures with exponential backoff (honouring Retry-After) and
// keeping permanent ones as dead letters.
type Queue struct {
	cfg     QueueConfig
	send    SendFunc
	changes chan quell.IncidentChange
	done    chan struct{}
	stop    context.CancelFunc
	dead    *DeadLetters
	log     *slog.Logger
	metrics QueueMetrics
}

// NewQueue starts the delivery goroutine; Close stops it.
func NewQueue(cfg QueueConfig, send SendFunc, dead *DeadLetters, log *slog.Logger, m QueueMetrics) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{cfg: cfg, send: send, changes: make(chan quell.IncidentChange, cfg.Size), done: make(chan struct{}),
		stop: cancel, dead: dead, log: log, metrics: m}
	go q.run(ctx)
	return q
}

func (q *Queue) Name() string { return q.cfg.Name }

// Write queues the batch's changes, waiting while the queue is full.
func (q *Queue) Write(ctx context.Context, b Batch) error {
	for _, c := range b.Changes {
		select {
		case q.changes <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close delivers what is queued, until ctx ends; what is left then is
// dead-lettered rather than lost.
func (q *Queue) Close(ctx context.Context) error {
	close(q.changes)
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.stop()
		<-q.done
		return nil
	}
}

func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	for c := range q.changes {
		if err := q.deliver(ctx, c); err != nil {
			q.metrics.DeadLetters.Inc()
			q.log.Error("incident change not delivered; kept as a dead letter", "incident", c.Incident.ID, "kind", c.Kind, "seq", c.Seq, "err", err, "deadletters", q.dead.Path())
			if derr := q.dead.Add(q.cfg.Name, err.Error(), c); derr != nil {
				q.log.Error("dead letter not written", "err", derr)
			}
			continue
		}
		q.metrics.Delivered.Inc()
	}
}

// deliver sends one change, retrying until it is delivered, fails
// permanently, or MaxElapsed has passed.
func (q *Queue) deliver(ctx context.Context, c quell.IncidentChange) error {
	deadline := time.Now().Add(q.cfg.MaxElapsed)
	backoff := 200 * time.Millisecond
	for {
		err := q.send(ctx, c)
		if err == nil {
			return nil
		}
		if IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff
		var ra *RetryAfter
		if errors.As(err, &ra) && ra.Wait > wait {
			wait = ra.Wait
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("gave up after %s: %w", q.cfg.MaxElapsed, err)
		}
		q.metrics.Retries.Inc()
		q.log.Warn("delivery failed, retrying", "incident", c.Incident.ID, "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("shut down while retrying: %w", err)
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
