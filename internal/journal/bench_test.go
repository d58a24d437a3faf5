package journal

import (
	"fmt"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/bus"
)

// BenchmarkAppend encodes and appends 100-alert batches shaped like an
// Alertmanager webhook's (8 labels, 3 annotations, the raw element), as
// ingest does for every request; fsync is left out (SyncNone), so what it
// measures is the encoding, the write and the bytes allocated per batch.
func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.TempDir(), SyncNone, 0, discard)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	at := time.Unix(1_700_000_000, 0).UTC()
	e := bus.Entry{Alerts: make([]quell.Alert, 100)}
	for i := range e.Alerts {
		labels := map[string]string{"alertname": "HighErrorRate", "service": fmt.Sprintf("svc-%d", i), "namespace": "shop",
			"pod": fmt.Sprintf("svc-%d-7d9f8b6c5-x2k4p", i), "instance": fmt.Sprintf("10.0.0.%d:8080", i), "job": "kubernetes-pods",
			"cluster": "prod-eu-1", "severity": "critical"}
		annotations := map[string]string{"summary": "5xx ratio above 5%", "description": "HighErrorRate on svc: 5xx ratio above 5%",
			"runbook_url": "https://runbooks.example.com/HighErrorRate"}
		e.Alerts[i] = quell.Alert{Source: "alertmanager", Status: quell.Firing, Severity: quell.Critical, Labels: labels,
			Annotations: annotations, StartsAt: at, ReceivedAt: at, Fingerprint: quell.Fingerprint(i + 1),
			Raw: fmt.Appendf(nil, `{"status":"firing","labels":{"alertname":"HighErrorRate","service":"svc-%d"},"startsAt":"2023-11-14T22:13:20Z"}`, i)}
	}
	var bytes int64
	for b.Loop() {
		r := j.Encode(e)
		bytes += int64(len(r.B))
		if _, err := j.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(bytes / int64(b.N))
}
