package sinks

import (
	"bytes"
	"context"
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
	Timeout time.Duration     `yaml:"timeout"`
	// MaxElapsed bounds the retries of one change; then it is dead-lettered.
	MaxElapsed time.Duration `yaml:"max_elapsed"`
	// Queue bounds the changes waiting; a full queue pushes back on the correlator.
	Queue int `yaml:"queue"`
}

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
	cfg    WebhookConfig
	client *http.Client
	queue  chan quell.IncidentChange
	done   chan struct{}
	dead   *DeadLetters
	log    *slog.Logger
	stop   context.CancelFunc

	delivered prometheus.Counter
	retries   prometheus.Counter
	deadCount prometheus.Counter
}

// NewWebhook starts the delivery goroutine of one webhook.
func NewWebhook(cfg WebhookConfig, dead *DeadLetters, log *slog.Logger, reg prometheus.Registerer) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	labels := prometheus.Labels{"sink": cfg.Name}
	w := &Webhook{
		cfg: cfg, client: &http.Client{Timeout: cfg.Timeout},
		queue: make(chan quell.IncidentChange, cfg.Queue), done: make(chan struct{}),
		dead: dead, log: log.With("sink", cfg.Name), stop: cancel,
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "quell_webhook_delivered_total", Help: "Incident changes delivered by outgoing webhooks.", ConstLabels: labels}),
		retries:   prometheus.NewCounter(prometheus.CounterOpts{Name: "quell_webhook_retries_total", Help: "Retried outgoing webhook requests.", ConstLabels: labels}),
		deadCount: prometheus.NewCounter(prometheus.CounterOpts{Name: "quell_webhook_deadletters_total", Help: "Incident changes an outgoing webhook gave up on (see the dead-letter file).", ConstLabels: labels}),
	}
	if reg != nil {
		reg.MustRegister(w.delivered, w.retries, w.deadCount)
	}
	go w.run(ctx)
	return w, nil
}

func (w *Webhook) Name() string { return "webhook " + w.cfg.Name }

// Write queues the batch's changes, waiting while the queue is full.
func (w *Webhook) Write(ctx context.Context, b Batch) error {
	for _, c := range b.Changes {
		select {
		case w.queue <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close delivers what is queued, until ctx ends; what is left then is
// dead-lettered rather than lost.
func (w *Webhook) Close(ctx context.Context) error {
	close(w.queue)
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.stop()
		<-w.done
		return nil
	}
}

func (w *Webhook) run(ctx context.Context) {
	defer close(w.done)
	for c := range w.queue {
		if err := w.deliver(ctx, c); err != nil {
			w.deadCount.Inc()
			w.log.Error("incident change not delivered; kept as a dead letter", "incident", c.Incident.ID, "kind", c.Kind, "err", err, "deadletters", w.dead.Path())
			if derr := w.dead.Add(w.Name(), err.Error(), c); derr != nil {
				w.log.Error("dead letter not written", "err", derr)
			}
			continue
		}
		w.delivered.Inc()
	}
}

// deliver POSTs one change, retrying transient failures (network errors,
// 408, 429, 5xx) with exponential backoff, honouring Retry-After.
func (w *Webhook) deliver(ctx context.Context, c quell.IncidentChange) error {
	body, err := json.Marshal(c)
	if err != nil {
		return &Permanent{err}
	}
	deadline := time.Now().Add(w.cfg.MaxElapsed)
	backoff := 200 * time.Millisecond
	for {
		wait, err := w.post(ctx, body, c)
		if err == nil {
			return nil
		}
		if IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		if wait < backoff {
			wait = backoff
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("gave up after %s: %w", w.cfg.MaxElapsed, err)
		}
		w.retries.Inc()
		w.log.Warn("webhook delivery failed, retrying", "incident", c.Incident.ID, "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("shut down while retrying: %w", err)
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// post sends once; on a retryable failure it returns how long the receiver
// asked to wait (Retry-After), or 0.
func (w *Webhook) post(ctx context.Context, body []byte, c quell.IncidentChange) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, &Permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "quell")
	req.Header.Set("X-Quell-Event", "incident."+string(c.Kind))
	req.Header.Set("Idempotency-Key", c.Incident.ID+"/"+strconv.FormatUint(c.Seq, 10))
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%s answered %s: %s", w.cfg.URL, resp.Status, bytes.TrimSpace(msg))
	default:
		return 0, &Permanent{errors.New(w.cfg.URL + " answered " + resp.Status + ": " + string(bytes.TrimSpace(msg)))}
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
