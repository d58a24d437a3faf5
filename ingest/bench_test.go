package ingest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell/bench/cputime"
)

type benchAlert struct {
	Status       string            `json:"status,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
}

// webhookBody builds an Alertmanager webhook message of n alerts shaped like
// a Kubernetes cluster's: 12 labels and 3 annotations each.
func webhookBody(n int) []byte {
	b, err := json.Marshal(map[string]any{
		"receiver": "quell", "status": "firing", "alerts": benchAlerts(n), "groupLabels": map[string]string{"alertname": "KubePodCrashLooping"},
		"commonLabels": map[string]string{"alertname": "KubePodCrashLooping"}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager-main-0:9093", "version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}", "truncatedAlerts": 0,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// v2Body is the same alerts as Prometheus posts them to /api/v2/alerts.
func v2Body(n int) []byte {
	alerts := benchAlerts(n)
	for i := range alerts {
		alerts[i].Status, alerts[i].Fingerprint, alerts[i].EndsAt = "", "", "2025-03-14T10:04:00Z"
	}
	b, err := json.Marshal(alerts)
	if err != nil {
		panic(err)
	}
	return b
}

func benchAlerts(n int) []benchAlert {
	alerts := make([]benchAlert, n)
	for i := range alerts {
		pod := fmt.Sprintf("checkout-7d9f8c6b5-%05d", i)
		alerts[i] = benchAlert{
			Status: "firing",
			Labels: map[string]string{
				"alertname": "KubePodCrashLooping", "severity": "warning", "cluster": "prod-eu-west-1",
				"namespace": "shop", "pod": pod, "container": "checkout", "job": "kube-state-metrics",
				"instance": fmt.Sprintf("10.42.%d.%d:8080", i/250, i%250), "service": "kube-state-metrics",
				"endpoint": "http", "prometheus": "monitoring/k8s", "team": "payments",
			},
			Annotations: map[string]string{
				"summary":     "Pod is crash looping.",
				"description": fmt.Sprintf("Pod shop/%s (checkout) is in waiting state (reason: \"CrashLoopBackOff\").", pod),
				"runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
			},
			StartsAt:     fmt.Sprintf("2025-03-14T09:%02d:%02d.%09dZ", i/60%60, i%60, 123456789+i),
			EndsAt:       amZeroTime,
			GeneratorURL: "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%2Cjob%3D%22kube-state-metrics%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1",
			Fingerprint:  fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15),
		}
	}
	return alerts
}

var benchNow = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)

// benchParse reports MB/s of wall time and, steadier on a shared machine,
// MB per second of the process's CPU time (GC included).
func benchParse(b *testing.B, body []byte, parse func([]byte) (int, error)) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := cputime.Now()
	for b.Loop() {
		if _, err := parse(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(body))/1e6/(cputime.Now()-cpu).Seconds(), "MB/cpu-s")
}

func BenchmarkParseAlertmanager100(b *testing.B) {
	benchParse(b, webhookBody(100), func(body []byte) (int, error) {
		a, err := ParseAlertmanagerWebhook(body, benchNow)
		return len(a), err
	})
}

func BenchmarkParseAlertsV2100(b *testing.B) {
	benchParse(b, v2Body(100), func(body []byte) (int, error) {
		a, err := ParseAlertsV2(body, benchNow)
		return len(a), err
	})
}

func BenchmarkParseGrafana(b *testing.B) {
	benchParse(b, fixture(b, "grafana_alerting_webhook_zulip_alert_values_v11.json"), func(body []byte) (int, error) {
		a, err := ParseAlertmanagerWebhook(body, benchNow)
		return len(a), err
	})
}

func BenchmarkParseDatadog(b *testing.B) {
	benchParse(b, fixture(b, "datadog_webhook_custom_triggered_codenow_fluffy.json"), func(body []byte) (int, error) {
		a, err := ParseDatadogWebhook(body, benchNow)
		return len(a), err
	})
}

func BenchmarkParseSplunk(b *testing.B) {
	benchParse(b, fixture(b, "splunk_webhook_zulip_search_one_result.json"), func(body []byte) (int, error) {
		a, err := ParseSplunkWebhook(body, benchNow, 30*time.Minute)
		return len(a), err
	})
}

// stdMessage is the webhook decoded the obvious way with encoding/json, for
// the baseline benchmarks: struct fields, time.Time, no Raw and no
// normalization, so it is a lower bound on what encoding/json would cost.
type stdMessage struct {
	Alerts []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	} `json:"alerts"`
}

func BenchmarkParseAlertmanager100EncodingJSON(b *testing.B) {
	benchParse(b, webhookBody(100), func(body []byte) (int, error) {
		var m stdMessage
		err := json.Unmarshal(body, &m)
		return len(m.Alerts), err
	})
}

func fixture(b testing.TB, name string) []byte {
	body, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		b.Fatal(err)
	}
	return body
}
