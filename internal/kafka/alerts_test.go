package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
)

// An alert within ingest's default limits can still be too large for a
// record (128 labels of 4 KiB, with the payload kept beside them). Ingest
// refuses it with a 4xx naming it, which a sender does not retry; before,
// it answered 503 for ever. The next request goes through.
func TestIngestRefusesAnAlertTooLargeForARecord(t *testing.T) {
	brokers, log := broker(t)
	topic, _ := topics(t, brokers, log, 1)
	pub := publisher(t, brokers, log, topic)
	h, err := ingest.NewHandler(ingest.DefaultConfig(), pub, dedupe.NewFingerprinter(nil), log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	post := func(labels map[string]string) (int, string) {
		body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "quell",
			"alerts": []any{map[string]any{"status": "firing", "labels": labels, "startsAt": time.Now().UTC().Format(time.RFC3339)}}})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", ingest.PathAlertmanager, bytes.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	big := map[string]string{"alertname": "Huge", "service": "web"}
	for i := len(big); i < 128; i++ {
		big[fmt.Sprintf("l%03d", i)] = strings.Repeat("v", 4096)
	}
	code, body := post(big)
	if code != 400 || !strings.Contains(body, "alerts[0]: is ") || !strings.Contains(body, "none of the request's alerts was accepted") {
		t.Fatalf("too large: status %d, body %s; want 400 naming alerts[0]", code, body)
	}
	if code, body := post(map[string]string{"alertname": "Small", "service": "web"}); code != 200 {
		t.Fatalf("next request: status %d, body %s", code, body)
	}
	got := readAll(t, brokers, topic, 1)
	if !bytes.Contains(got[0].Value, []byte(`"Small"`)) {
		t.Errorf("the topic's first record is %.200s; want the small alert", got[0].Value)
	}
}
