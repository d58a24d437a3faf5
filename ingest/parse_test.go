package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

var now = time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)

// amBody wraps alert objects in a webhook message.
func amBody(alerts ...string) []byte {
	return []byte(`{"version":"4","status":"firing","alerts":[` + strings.Join(alerts, ",") + `]}`)
}

const amOK = `{"status":"firing","labels":{"alertname":"A","severity":"page"},"startsAt":"2025-10-02T11:00:00.123456789Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"0123456789abcdef"}`

func TestParseAlertmanagerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		syntax           bool
	}{
		{"bad startsAt", string(amBody(amOK, `{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday"}`)),
			`alerts[1].startsAt: "yesterday" is not an RFC 3339 time`, false},
		{"bad status", string(amBody(`{"status":"pending","labels":{"a":"b"}}`)), `alerts[0].status: "pending": want firing or resolved`, false},
		{"no status", string(amBody(`{"labels":{"a":"b"}}`)), `alerts[0].status: missing`, false},
		{"no labels", string(amBody(amOK, amOK, amOK, `{"status":"firing","labels":{}}`)), `alerts[3]: alert has no labels`, false},
		{"label not a string", string(amBody(`{"status":"firing","labels":{"severity":2}}`)), `alerts[0].labels.severity: want a string, got a number`, false},
		{"alerts not an array", `{"alerts":{}}`, `alerts: want an array, got an object`, false},
		{"no alerts", `{"version":"4"}`, `no "alerts" array: not an Alertmanager webhook message`, false},
		{"array body", `[` + amOK + `]`, `got an array; the body looks like Prometheus/Alertmanager v2 alerts, a JSON array (POST those to /api/v2/alerts)`, false},
		{"ends before starts", string(amBody(`{"status":"resolved","labels":{"a":"b"},"startsAt":"2025-10-02T11:00:00Z","endsAt":"2025-10-02T10:00:00Z"}`)),
			`alerts[0]: endsAt 2025-10-02T10:00:00Z is before startsAt 2025-10-02T11:00:00Z`, false},
		{"truncated", `{"alerts":[{"labels":{"a":"b"`, `alerts[0].labels: invalid JSON at byte 29: want ',' or '}'`, true},
		{"trailing data", string(amBody(amOK)) + `x`, `unexpected data after the JSON document`, true},
		{"empty body", ``, `invalid JSON at byte 0: unexpected end of body`, true},
		{"bad escape", string(amBody(`{"status":"firing","labels":{"a":"\q"}}`)), `alerts[0].labels.a: invalid JSON at byte 77: invalid escape \q`, true},
		{"raw control byte", "{\"alerts\":[{\"labels\":{\"a\":\"x\ny\"}}]}", `alerts[0].labels.a: invalid JSON at byte 28: control character`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAlertmanagerWebhook([]byte(tc.body), now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			pe, ok := errors.AsType[*ParseError](err)
			if !ok || pe.Syntax != tc.syntax {
				t.Errorf("ParseError %v with Syntax=%v, want Syntax=%v", pe, pe != nil && pe.Syntax, tc.syntax)
			}
		})
	}
}

func TestParseAlertmanagerNormalizes(t *testing.T) {
	second := `{"status":"resolved","labels":{"alertname":"B"},"annotations":{"summary":"caf\u00e9 \ud83d\ude00"},` +
		`"startsAt":"2025-10-02T13:00:00+02:00","endsAt":"2025-10-02T11:30:00Z","generatorURL":"http://p/graph?a=1\u0026b=2","grafanaOnly":{"x":[1,2.5e3,true,null]}}`
	body := amBody(amOK, "\n  "+second+"\n")
	got, err := ParseAlertmanagerWebhook(body, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d alerts, want 2", len(got))
	}
	a, b := got[0], got[1]
	if a.Status != quell.Firing || !a.EndsAt.IsZero() || a.SourceFingerprint != "0123456789abcdef" || a.Fingerprint != 0 {
		t.Errorf("firing alert: status %s, endsAt %v, sourceFingerprint %q, fingerprint %v", a.Status, a.EndsAt, a.SourceFingerprint, a.Fingerprint)
	}
	if a.StartsAt.Nanosecond() != 123456789 || a.Severity != quell.Critical || a.Source != "alertmanager" || !a.ReceivedAt.Equal(now) {
		t.Errorf("firing alert: startsAt %v, severity %s, source %s, receivedAt %v", a.StartsAt, a.Severity, a.Source, a.ReceivedAt)
	}
	if string(a.Raw) != amOK || string(b.Raw) != second {
		t.Errorf("Raw is not the alert's own element:\n%s\n%s", a.Raw, b.Raw)
	}
	if b.Status != quell.Resolved || !b.StartsAt.Equal(time.Date(2025, 10, 2, 11, 0, 0, 0, time.UTC)) || b.StartsAt.Location() != time.UTC {
		t.Errorf("resolved alert: status %s, startsAt %v (want 11:00 UTC)", b.Status, b.StartsAt)
	}
	if b.Annotations["summary"] != "café 😀" || b.GeneratorURL != "http://p/graph?a=1&b=2" || b.Severity != quell.Warning {
		t.Errorf("resolved alert: summary %q, generatorURL %q, severity %s", b.Annotations["summary"], b.GeneratorURL, b.Severity)
	}
}

func TestParseAlertsV2(t *testing.T) {
	for _, tc := range []struct {
		name, alert string
		status      quell.Status
		startsAt    time.Time
	}{
		{"no endsAt fires", `{"labels":{"a":"b"},"startsAt":"2025-10-02T11:00:00Z"}`, quell.Firing, now.Add(-time.Hour)},
		{"future endsAt fires", `{"labels":{"a":"b"},"startsAt":"2025-10-02T11:00:00Z","endsAt":"2025-10-02T12:04:00Z"}`, quell.Firing, now.Add(-time.Hour)},
		{"endsAt now resolves", `{"labels":{"a":"b"},"startsAt":"2025-10-02T11:00:00Z","endsAt":"2025-10-02T12:00:00Z"}`, quell.Resolved, now.Add(-time.Hour)},
		{"no startsAt is now", `{"labels":{"a":"b"}}`, quell.Firing, now},
		{"no startsAt, past end", `{"labels":{"a":"b"},"endsAt":"2025-10-02T10:00:00Z"}`, quell.Resolved, now.Add(-2 * time.Hour)},
		{"amtool's year-1 with millis", `{"labels":{"a":"b"},"endsAt":"0001-01-01T00:00:00.000Z"}`, quell.Firing, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAlertsV2([]byte(`[`+tc.alert+`]`), now)
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Status != tc.status || !got[0].StartsAt.Equal(tc.startsAt) {
				t.Errorf("status %s startsAt %v, want %s %v", got[0].Status, got[0].StartsAt, tc.status, tc.startsAt)
			}
		})
	}
	for _, tc := range []struct{ name, body, want string }{
		{"object body", `{"alerts":[],"receiver":"x"}`, `want a JSON array of alerts (Prometheus/Alertmanager v2 postable alerts), got an object; the body looks like an Alertmanager or Grafana webhook message (POST those to /webhooks/alertmanager)`},
		{"bad time", `[{"labels":{"a":"b"}},{"labels":{"a":"b"},"startsAt":17}]`, `[1].startsAt: want an RFC 3339 time string, got a number`},
		{"no labels", `[{"annotations":{"a":"b"}}]`, `[0]: alert has no labels`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAlertsV2([]byte(tc.body), now)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
		})
	}
}

func TestSeverityOf(t *testing.T) {
	for word, want := range map[string]quell.Severity{
		"critical": quell.Critical, "PAGE": quell.Critical, " error ": quell.Critical, "high": quell.Critical,
		"warning": quell.Warning, "Warn": quell.Warning, "": quell.Warning, "bogus": quell.Warning,
		"info": quell.Info, "none": quell.Info, "low": quell.Info,
	} {
		if got := severityOf(word); got != want {
			t.Errorf("severityOf(%q) = %s, want %s", word, got, want)
		}
	}
}

func datadog(t *testing.T, body string) quell.Alert {
	t.Helper()
	got, err := ParseDatadogWebhook([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
	return got[0]
}

func TestDatadogStatusAndSeverity(t *testing.T) {
	for _, tc := range []struct {
		body     string
		status   quell.Status
		severity quell.Severity
	}{
		{`{"title":"x","alert_transition":"Re-Triggered","alert_priority":"P2"}`, quell.Firing, quell.Critical},
		{`{"title":"x","alert_transition":"No Data","alert_priority":"P3"}`, quell.Firing, quell.Warning},
		{`{"title":"x","alert_transition":"Renotify","alert_type":"error"}`, quell.Firing, quell.Critical},
		{`{"title":"x","alert_transition":"Warn","alert_type":"warning"}`, quell.Firing, quell.Warning},
		{`{"title":"x","alert_transition":"Recovered","alert_priority":"P5"}`, quell.Resolved, quell.Info},
		{`{"title":"[P1] [Recovered on {host:a}] x"}`, quell.Resolved, quell.Critical},
		{`{"title":"x","alert_type":"success"}`, quell.Resolved, quell.Info},
		{`{"title":"x"}`, quell.Firing, quell.Warning},
	} {
		a := datadog(t, tc.body)
		if a.Status != tc.status || a.Severity != tc.severity {
			t.Errorf("%s: status %s severity %s, want %s %s", tc.body, a.Status, a.Severity, tc.status, tc.severity)
		}
	}
}

func TestDatadogLabels(t *testing.T) {
	a := datadog(t, `{"title":"[P2] [Triggered on {role:db, host:a}] [prod] disk full","alert_id":"42","hostname":"a",
		"tags":"env:prod, monitor,team:x,team:a,env,url:http://x","date":"1448435530000","link":"https://dd/e/1","secret":"s3cret"}`)
	want := map[string]string{"alertname": "[prod] disk full", "monitor_id": "42", "host": "a", "scope": "host:a,role:db",
		"env": "prod", "monitor": "true", "team": "a,x", "url": "http://x"}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	if !a.StartsAt.Equal(time.UnixMilli(1448435530000)) || a.GeneratorURL != "https://dd/e/1" || a.Severity != quell.Critical {
		t.Errorf("startsAt %v generatorURL %q severity %s", a.StartsAt, a.GeneratorURL, a.Severity)
	}
	for k, v := range a.Annotations {
		if strings.Contains(v, "s3cret") {
			t.Errorf("annotation %s carries the template's secret", k)
		}
	}
}

// The Triggered and Recovered notifications of one monitor group must be one
// alert identity, or a recovery would never resolve what fired.
func TestDatadogTransitionsKeepIdentity(t *testing.T) {
	fp := dedupe.NewFingerprinter(nil)
	var prints []quell.Fingerprint
	for _, f := range []string{"datadog_webhook_custom_triggered_codenow_fluffy.json", "datadog_webhook_custom_recovered_codenow_fluffy.json"} {
		got, err := ParseDatadogWebhook(fixture(t, f), now)
		if err != nil {
			t.Fatal(err)
		}
		prints = append(prints, fp.Fingerprint(&got[0]))
	}
	if prints[0] != prints[1] {
		t.Errorf("triggered %s and recovered %s differ", prints[0], prints[1])
	}
}

func TestDatadogTemplate(t *testing.T) {
	_, err := ParseDatadogWebhook(fixture(t, "datadog_webhook_default_template_docs.json"), now)
	if err == nil || !strings.Contains(err.Error(), "Datadog's payload template") || !strings.Contains(err.Error(), "$EVENT_TITLE") {
		t.Fatalf("error %v, want the template named as such", err)
	}
	// A variable Datadog left unrendered in a real notification is absent.
	a := datadog(t, `{"title":"disk full","alert_priority":"$ALERT_PRIORITY","date":"$DATE","alert_id":"7"}`)
	if a.Severity != quell.Warning || !a.StartsAt.Equal(now) || a.Annotations["priority"] != "" {
		t.Errorf("severity %s startsAt %v priority annotation %q", a.Severity, a.StartsAt, a.Annotations["priority"])
	}
}

func TestDatadogErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{}`, `no field identifies the alert`},
		{`{"body":"hi"}`, `no field identifies the alert`},
		{`{"title":"x","alert_transition":"Exploded"}`, `transition: "Exploded" is not a Datadog transition`},
		{`{"title":"x","date":"yesterday"}`, `date: "yesterday" is not an epoch time in milliseconds`},
		{`["x"]`, `want a Datadog webhook payload (a JSON object), got an array`},
		{`{"title":"x",}`, `invalid JSON at byte 13: want a string key`},
	} {
		_, err := ParseDatadogWebhook([]byte(tc.body), now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.body, err, tc.want)
		}
	}
}

func TestSplunk(t *testing.T) {
	got, err := ParseSplunkWebhook(fixture(t, "splunk_webhook_zulip_search_one_result.json"), now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a := got[0]
	if a.Labels["alertname"] != "sudo" || a.Labels["host"] != "myserver" || a.Labels["sourcetype"] != "syslog" || a.Labels["source"] != "/var/log/auth.log" {
		t.Errorf("labels %v", a.Labels)
	}
	if !a.StartsAt.Equal(time.Unix(1483557272, 0)) || !a.EndsAt.Equal(now.Add(10*time.Minute)) || a.Status != quell.Firing {
		t.Errorf("startsAt %v endsAt %v status %s", a.StartsAt, a.EndsAt, a.Status)
	}
	if _, ok := a.Annotations["result._si"]; ok || a.Annotations["result._raw"] == "" || a.Annotations["result.USER"] != "" {
		t.Errorf("annotations keep internal or empty fields, or lose _raw: %v", a.Annotations)
	}
	got, err = ParseSplunkWebhook([]byte(`{"search_name":"s","result":{"_time":"1700000000.250","severity":"critical"}}`), now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Severity != quell.Critical || got[0].StartsAt.Nanosecond() != 250_000_000 {
		t.Errorf("severity %s startsAt %v", got[0].Severity, got[0].StartsAt)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"search_name":3,"result":{}}`, `search_name: want a string or null, got a number`},
		{`{"search_name":null,"result":{"count":"1"}}`, `alert has no labels`},
		{`{"search_name":"s"}`, `no "result" object`},
		{`{"search_name":"s","result":{"_time":"soon"}}`, `result._time: "soon" is not an epoch time in seconds`},
		{`{"search_name":"s","result":[]}`, `result: want an object, got an array`},
	} {
		_, err := ParseSplunkWebhook([]byte(tc.body), now, time.Minute)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.body, err, tc.want)
		}
	}
}
