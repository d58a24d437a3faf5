// Package ingest receives alerts over HTTP from Alertmanager, Prometheus,
// Grafana, Datadog and Splunk, normalizes each body into quell alerts and
// puts them on the bus. One file per source format holds its parser; each is
// a pure function of the body and the time.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/budget"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/internal/lograte"
)

// Routes this package serves.
const (
	PathAlertmanager = "/webhooks/alertmanager"
	PathAlertsV2     = "/api/v2/alerts"
	PathDatadog      = "/webhooks/datadog"
	PathSplunk       = "/webhooks/splunk"
)

// Paths lists the routes, for mounting the Handler on a mux.
var Paths = []string{PathAlertmanager, PathAlertsV2, PathDatadog, PathSplunk}

// Alert.Source of what each route ingests. v2 alerts are Alertmanager's API
// and model, so they share its source (and identity).
const (
	SourceAlertmanager = "alertmanager"
	SourceDatadog      = "datadog"
	SourceSplunk       = "splunk"
)

// retryAfter is the Retry-After, in seconds, of a 503 when the bus refuses:
// long enough for a Kafka leader election, short enough not to delay alerts.
const retryAfter = "5"

// retryBusy is the Retry-After of a 503 when every request slot is taken:
// requests take milliseconds, so a slot frees up soon.
const retryBusy = "1"

// maxErrorBytes clips error texts, which quote the body, in answers and logs.
const maxErrorBytes = 1024

type route struct {
	format   string // the metrics' "source" label
	parse    func(body []byte, now time.Time) ([]quell.Alert, error)
	emptyOK  bool // answer success with an empty body, as Alertmanager's v2 API does
	remember bool // its alerts go to recentAlerts, which parse recalls
	duration prometheus.Observer
}

// Handler serves the ingest routes. A request is answered 2xx only after the
// bus accepted all its alerts, in one Publish call: nothing is half-accepted.
type Handler struct {
	cfg    Config
	pub    bus.Publisher
	fp     *dedupe.Fingerprinter
	log    *slog.Logger
	m      *metrics
	routes map[string]*route
	lim    limits
	now    func() time.Time
	tokens *TokenSet
	slots  chan struct{} // one per request being processed (its body has arrived)
	// arriving bounds the bodies being read per address (see body.go).
	arriving *arriving
	budget   *budget.Budget // nil: none (see UseBudget)
	behind   func() error   // nil: none (see UseBackPressure)
	// refused logs the requests quell could not accept (5xx), once per
	// interval.
	refused *lograte.Limit
	rate    *limiter      // nil: no per-client limit
	recent  *recentAlerts // Alertmanager webhook alerts parsed lately, for repeats to recall
}

// NewHandler checks cfg, loads its token files, and registers the ingest
// metrics on reg (nil: not exported); log nil discards. Mount the handler at
// each of Paths.
func NewHandler(cfg Config, pub bus.Publisher, fp *dedupe.Fingerprinter, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tokens, err := LoadTokens(cfg.WebhookTokenFiles...)
	if err != nil {
		return nil, fmt.Errorf("ingest.webhook_token_files: %w", err)
	}
	if pub == nil || fp == nil {
		return nil, errors.New("ingest: NewHandler needs a bus.Publisher and a *dedupe.Fingerprinter")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	lim := cfg.limits()
	recent := newRecentAlerts(defaultRecentBytes)
	h := &Handler{recent: recent, cfg: cfg, pub: pub, fp: fp, log: log, m: m, now: time.Now, lim: lim, routes: map[string]*route{
		PathAlertmanager: {format: "alertmanager", remember: true, parse: func(b []byte, now time.Time) ([]quell.Alert, error) {
			return parseAlertmanagerWebhook(b, now, lim, recent)
		}},
		PathAlertsV2: {format: "alertmanager_v2", emptyOK: true, parse: func(b []byte, now time.Time) ([]quell.Alert, error) {
			return parseAlertsV2(b, now, lim, cfg.ResolveTimeout)
		}},
		PathDatadog: {format: "datadog", parse: func(b []byte, now time.Time) ([]quell.Alert, error) {
			return parseDatadogWebhook(b, now, lim)
		}},
		PathSplunk: {format: "splunk", parse: func(b []byte, now time.Time) ([]quell.Alert, error) {
			return parseSplunkWebhook(b, now, cfg.SplunkResolveTimeout, lim)
		}},
	}, tokens: NewTokenSet(tokens), slots: make(chan struct{}, cfg.MaxConcurrentRequests),
		arriving: &arriving{max: cfg.MaxBodiesPerClient, n: map[string]int{}},
		refused:  lograte.New(log, slog.LevelError, "ingest refused requests it could not accept; senders retry 5xx", 10*time.Second)}
	if cfg.RatePerClient > 0 {
		h.rate = newLimiter(cfg.RatePerClient, cfg.RateBurst)
	}
	for _, rt := range h.routes {
		rt.duration = m.duration.WithLabelValues(rt.format)
		m.accepted.WithLabelValues(rt.format) // export 0 before the first alert
	}
	return h, nil
}

// defaultRecentBytes bounds the alerts remembered for recall (see
// recentAlerts) until UseBudget gives them their share.
const defaultRecentBytes = 32 << 20

// UseBudget makes the handler answer 503 while handling a request would
// pass the memory budget, and gives recalled alerts their share of it.
func (h *Handler) UseBudget(b *budget.Budget) {
	h.budget = b
	h.recent.max = b.RecentBytes()
}

// UseBackPressure makes the handler answer 503 while behind returns an
// error (split mode: the correlator too far behind, see kafka.max_delay).
func (h *Handler) UseBackPressure(behind func() error) { h.behind = behind }

// Tokens are the webhook tokens in force, for a reload to replace.
func (h *Handler) Tokens() *TokenSet { return h.tokens }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := h.routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no ingest route %s: POST alerts to one of %v", r.URL.Path, Paths)})
		return
	}
	start := time.Now()
	defer func() { rt.duration.Observe(time.Since(start).Seconds()) }()

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, rt, http.StatusMethodNotAllowed, reasonMethod, fmt.Errorf("method %s not allowed: POST the alerts", r.Method))
		return
	}
	if !h.admit(w, r, rt) {
		return
	}
	if h.behind != nil {
		if err := h.behind(); err != nil {
			w.Header().Set("Retry-After", retryAfter)
			h.reject(w, r, rt, http.StatusServiceUnavailable, reasonBehind, fmt.Errorf("%v: nothing accepted, retry in %s s", err, retryAfter))
			return
		}
	}
	buf, status, reason, err := h.readBody(w, r)
	if err != nil {
		h.reject(w, r, rt, status, reason, err)
		return
	}
	defer putBody(buf)
	body := buf.Bytes()
	if !h.slot(w, r, rt) {
		return
	}
	defer func() { <-h.slots }()
	if h.budget != nil {
		if !h.budget.Admit(int64(len(body))) {
			w.Header().Set("Retry-After", retryAfter)
			h.reject(w, r, rt, http.StatusServiceUnavailable, reasonMemory, fmt.Errorf(
				"quell's memory is near its budget (memory_limit, %d bytes): retry in %s s", h.budget.Limit(), retryAfter))
			return
		}
		defer h.budget.Release(int64(len(body)))
	}
	now := h.now()
	alerts, err := rt.parse(body, now)
	if err == nil {
		err = h.lim.checkAlerts(alerts, now)
	}
	if err != nil {
		why := reasonInvalid
		if pe, ok := errors.AsType[*ParseError](err); ok && pe.Syntax {
			why = reasonSyntax
		} else if ok && pe.Limit != "" {
			why = pe.Limit
		}
		h.reject(w, r, rt, http.StatusBadRequest, why, err)
		return
	}
	recalled := 0
	for i := range alerts {
		a := &alerts[i]
		if a.Fingerprint != 0 {
			recalled++ // fingerprint and all (see recentAlerts)
			continue
		}
		a.Fingerprint = h.fp.Fingerprint(a)
		// Not when its start was filled in with now: a repeat would get this
		// one's. A copy, which nothing downstream of the bus can reach.
		if rt.remember && !a.StartsAt.Equal(now) {
			c := *a
			h.recent.put(&c)
		}
	}
	if len(alerts) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishWait)
		err := h.pub.Publish(ctx, alerts)
		cancel()
		if big, ok := errors.AsType[*bus.TooLarge](err); ok {
			// Retrying cannot help, so not a 5xx: a sender retries those.
			h.reject(w, r, rt, http.StatusBadRequest, reasonAlertTooLarge, atIndex("alerts", big.Index,
				fmt.Errorf("is %d bytes as a record, more than the %d bytes a record of the alerts topic may take: shorten its labels and annotations; none of the request's alerts was accepted", big.Bytes, big.Limit)))
			return
		}
		if err != nil {
			w.Header().Set("Retry-After", retryAfter)
			h.reject(w, r, rt, http.StatusServiceUnavailable, reasonPublish,
				fmt.Errorf("the bus did not accept the %d alerts, so none was accepted: %v; retry later", len(alerts), err))
			return
		}
	}
	h.m.accepted.WithLabelValues(rt.format).Add(float64(len(alerts)))
	h.m.recalled.Add(float64(recalled))
	h.log.Debug("alerts accepted", "source", rt.format, "alerts", len(alerts), "bytes", len(body))
	if rt.emptyOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Accepted int `json:"accepted"`
	}{len(alerts)})
}

// reject answers with err and counts the reason. It never logs the URL,
// which may hold a token.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, rt *route, status int, reason string, err error) {
	h.m.rejected.WithLabelValues(rt.format, reason).Inc()
	msg := clip(err.Error())
	attrs := []any{"source", rt.format, "status", status, "reason", reason, "remote", r.RemoteAddr, "error", msg}
	switch {
	case reason == reasonUnauthorized || reason == reasonRateLimited || reason == reasonOverloaded:
		// Counted in the metrics; a line each would let a flood fill the disk.
		h.log.Debug("ingest request rejected", attrs...)
	case status >= 500:
		// While quell cannot accept alerts (a full disk, a broker down),
		// every request fails alike: one line per interval says so.
		h.refused.Log(attrs...)
	default:
		h.log.Warn("ingest request rejected", attrs...)
	}
	writeJSON(w, status, errorBody{msg})
}

// clip shortens an error text to maxErrorBytes: a 10 MiB label value
// quoted back would make every answer and log line as large.
func clip(s string) string {
	if len(s) <= maxErrorBytes {
		return s
	}
	return strings.ToValidUTF8(s[:maxErrorBytes], "") + "… (clipped)"
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // errorBody and the count cannot fail to marshal
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
