package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// labelsJSON is a labels object with n labels, the first of value size bytes.
func labelsJSON(n, size int) string {
	parts := []string{fmt.Sprintf(`"alertname":%q`, strings.Repeat("v", size))}
	for i := 1; i < n; i++ {
		parts = append(parts, fmt.Sprintf(`"l%d":"v"`, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAlertsPerRequest, cfg.MaxLabelsPerAlert, cfg.MaxLabelNameBytes, cfg.MaxLabelValueBytes = 3, 5, 20, 100
	alert := func(labels string) string { return `{"status":"firing","labels":` + labels + `}` }
	ok := alert(labelsJSON(5, 100))
	long := strings.Repeat("n", 21)
	for _, tc := range []struct {
		name, path, body, reason, want string
	}{
		{"at the limits", PathAlertmanager, string(amBody(ok, ok, ok)), "", ""},
		{"alerts", PathAlertmanager, string(amBody(ok, ok, ok, ok)), reasonTooManyAlerts,
			"alerts: more than 3 alerts in one request (ingest.max_alerts_per_request)"},
		{"alerts v2", PathAlertsV2, `[` + strings.Repeat(`{"labels":{"a":"b"}},`, 3) + `{"labels":{"a":"b"}}]`, reasonTooManyAlerts,
			"more than 3 alerts in one request"},
		{"labels", PathAlertmanager, string(amBody(ok, alert(labelsJSON(6, 1)))), reasonTooManyLabels,
			"alerts[1].labels: more than 5 labels (ingest.max_labels_per_alert)"},
		{"value", PathAlertsV2, `[{"labels":{"a":"b"}},{"labels":` + labelsJSON(1, 101) + `}]`, reasonLabelTooLarge,
			`[1].labels: label "alertname": value is 101 bytes, more than ingest.max_label_value_bytes (100)`},
		{"name", PathAlertmanager, string(amBody(alert(`{"` + long + `":"v"}`))), reasonLabelTooLarge,
			`alerts[0].labels: label name "nnnnnnnnnnnnnnnnnnnnn"… is 21 bytes, more than ingest.max_label_name_bytes (20)`},
		{"datadog tags", PathDatadog, `{"title":"x","tags":"a,b,c,d,e,f"}`, reasonTooManyLabels, "tags: more than 5 labels"},
		{"datadog value", PathDatadog, `{"title":"` + strings.Repeat("x", 101) + `"}`, reasonLabelTooLarge, `label "alertname": value is 101 bytes`},
		{"splunk value", PathSplunk, `{"search_name":"s","result":{"host":"` + strings.Repeat("h", 101) + `"}}`, reasonLabelTooLarge, `label "host": value is 101 bytes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := &fakeBus{}
			h, _ := newTestHandler(t, cfg, pub)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)))
			if tc.reason == "" {
				if rec.Code != 200 || len(pub.batches) != 1 {
					t.Fatalf("status %d, %d publishes, body %s; want 200 and one publish", rec.Code, len(pub.batches), rec.Body)
				}
				return
			}
			var resp errorBody
			json.Unmarshal(rec.Body.Bytes(), &resp)
			if rec.Code != 400 || !strings.Contains(resp.Error, tc.want) || len(pub.batches) != 0 {
				t.Errorf("status %d, body %s, %d publishes; want 400 containing %q and nothing published", rec.Code, rec.Body, len(pub.batches), tc.want)
			}
			if n := counter(t, h.m.rejected.WithLabelValues(h.routes[tc.path].format, tc.reason)); n != 1 {
				t.Errorf("rejected %s = %v, want 1", tc.reason, n)
			}
		})
	}
}

// TestErrorClipped: an error quoting a huge value is clipped in the answer.
func TestErrorClipped(t *testing.T) {
	h, _ := newTestHandler(t, DefaultConfig(), &fakeBus{})
	rec := httptest.NewRecorder()
	body := `[{"labels":{"a":"b"},"startsAt":"` + strings.Repeat("9", 100000) + `"}]`
	h.ServeHTTP(rec, httptest.NewRequest("POST", PathAlertsV2, bytes.NewReader([]byte(body))))
	if rec.Code != 400 || rec.Body.Len() > 2*maxErrorBytes || !strings.Contains(rec.Body.String(), "(clipped)") {
		t.Errorf("status %d, %d bytes of answer; want 400 clipped to about %d bytes", rec.Code, rec.Body.Len(), maxErrorBytes)
	}
}
