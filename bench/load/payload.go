package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// A realistic fleet: the distinct alerts are drawn from these, so label
// values repeat across alerts the way a real cluster's do.
var (
	alertnames = []struct{ name, severity, summary string }{
		{"HighErrorRate", "critical", "5xx ratio above 5%"},
		{"HighLatency", "warning", "p99 latency above 1s"},
		{"KubePodCrashLooping", "warning", "pod is restarting repeatedly"},
		{"KubePodNotReady", "warning", "pod not ready for 15m"},
		{"CPUThrottlingHigh", "info", "CPU throttled above 25%"},
		{"MemoryPressure", "warning", "working set above 90% of limit"},
		{"TargetDown", "critical", "scrape target unreachable"},
		{"DiskSpaceLow", "critical", "volume above 85% full"},
	}
	services   = 60
	namespaces = []string{"shop", "payments", "search", "identity", "platform", "data", "edge", "ml"}
	clusters   = []string{"prod-eu-1", "prod-us-1", "prod-ap-1"}
)

// alert is an element of an Alertmanager webhook message; a firing one's
// zero endsAt encodes as Alertmanager's own year-1 time. postable converts it
// to the v2 API's shape.
type alert struct {
	Status       string            `json:"status,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
}

// labels returns the identity of distinct alert id: every id in [0, distinct)
// has its own label set (alertname × service × replica).
func labels(id int) map[string]string {
	an := alertnames[id%len(alertnames)]
	svc := (id / len(alertnames)) % services
	replica := id / (len(alertnames) * services)
	name := fmt.Sprintf("svc-%02d", svc)
	return map[string]string{
		"alertname": an.name,
		"severity":  an.severity,
		"service":   name,
		"job":       name,
		"namespace": namespaces[svc%len(namespaces)],
		"cluster":   clusters[(svc+replica)%len(clusters)],
		"instance":  fmt.Sprintf("10.%d.%d.%d:8080", svc%len(clusters), replica/250, replica%250+1),
		"pod":       fmt.Sprintf("%s-%08x-%d", name, uint32(svc)*2654435761, replica),
	}
}

// bodies are one request's payload for each target.
type bodies struct {
	webhook, v2 []byte
	alerts      int
}

// build makes pool batches of size alerts each. Batch b carries the distinct
// alerts b*size, b*size+1, … (mod distinct), so every alert repeats once the
// pool wraps (dedupe's work); a churn fraction of them is sent resolved, and
// fires again on a later pass (resolve and re-trigger).
func build(pool, size, distinct int, churn float64, start time.Time) ([]bodies, error) {
	out := make([]bodies, pool)
	for b := range out {
		var err error
		if out[b], err = batch(b, size, distinct, churn, start); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batch is batch b of build's pool.
func batch(b, size, distinct int, churn float64, start time.Time) (bodies, error) {
	alerts := make([]alert, size)
	for j := range alerts {
		id := (b*size + j) % distinct
		a := &alerts[j]
		a.Labels = labels(id)
		an := alertnames[id%len(alertnames)]
		a.Annotations = map[string]string{
			"summary":     an.summary,
			"description": fmt.Sprintf("%s on %s (%s): %s", an.name, a.Labels["pod"], a.Labels["cluster"], an.summary),
			"runbook_url": "https://runbooks.example.com/" + an.name,
		}
		a.StartsAt = start.Add(-time.Duration(id%3600) * time.Second)
		a.GeneratorURL = "http://prometheus.example.com/graph?g0.expr=" + an.name
		a.Fingerprint = fmt.Sprintf("%016x", model.LabelsToSignature(a.Labels)) // Alertmanager's own
		a.Status = "firing"
		if resolvedAt(b, j, churn) {
			a.Status, a.EndsAt = "resolved", start
		}
	}
	wh, err := json.Marshal(webhook{
		Version: "4", GroupKey: "{}:{}", Status: "firing", Receiver: "quell",
		GroupLabels: map[string]string{}, CommonLabels: map[string]string{}, CommonAnnotations: map[string]string{},
		ExternalURL: "http://alertmanager.example.com", Alerts: alerts,
	})
	if err != nil {
		return bodies{}, fmt.Errorf("encoding webhook batch %d: %w", b, err)
	}
	v2, err := json.Marshal(postable(alerts))
	if err != nil {
		return bodies{}, fmt.Errorf("encoding v2 batch %d: %w", b, err)
	}
	return bodies{webhook: wh, v2: v2, alerts: size}, nil
}

// maxPool bounds the batches encoded before a run (about 60 KB each).
const maxPool = 4096

// batches are a run's requests: the pool built beforehand, or (past
// maxPool) each batch encoded as it is sent.
type batches struct {
	built             []bodies
	n, size, distinct int
	churn             float64
	start             time.Time
}

// get is the i-th request's batch.
func (p batches) get(i uint64) *bodies {
	if p.built != nil {
		return &p.built[i%uint64(len(p.built))]
	}
	b, err := batch(int(i%uint64(p.n)), p.size, p.distinct, p.churn, p.start)
	if err != nil {
		panic(err) // the same encoding succeeds for every batch of the pool
	}
	return &b
}

// resolvedAt spreads the churn evenly and deterministically over the pool.
func resolvedAt(b, j int, churn float64) bool {
	h := uint32(b*7919+j) * 2654435761
	return float64(h)/(1<<32) < churn
}

// webhook is Alertmanager's webhook_config message, version 4.
type webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []alert           `json:"alerts"`
}

// v2Alert is a postable alert of Alertmanager's API: a firing one has no
// endsAt (Alertmanager applies its resolve_timeout), a resolved one an end
// in the past.
type v2Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL"`
}

func postable(alerts []alert) []v2Alert {
	out := make([]v2Alert, len(alerts))
	for i, a := range alerts {
		out[i] = v2Alert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}
	}
	return out
}
