package sinks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

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
	// request came from quell and was not altered. secret_file reads it
	// from a file, ${NAME} from the environment.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	Delivery   `yaml:",inline"`
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
	c.Defaults()
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
