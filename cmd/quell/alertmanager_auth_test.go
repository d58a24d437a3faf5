package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/testenv"
)

// amAuthConfig sends each team's alerts through a receiver with its own
// http_config: a bearer token, basic auth with the token as password, and a
// wrong token.
const amAuthConfig = `route:
  receiver: bearer
  group_by: [team]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team="basic"']
      receiver: basic
    - matchers: ['team="wrong"']
      receiver: wrong
receivers:
  - name: bearer
    webhook_configs:
      - url: %[1]s
        send_resolved: true
        http_config:
          authorization:
            credentials: %[2]s
  - name: basic
    webhook_configs:
      - url: %[1]s
        send_resolved: true
        http_config:
          basic_auth:
            username: alertmanager
            password: %[2]s
  - name: wrong
    webhook_configs:
      - url: %[1]s
        send_resolved: true
        http_config:
          authorization:
            credentials: not-the-token
`

// TestAlertmanagerWebhookAuth: with --webhook-token-file, the real
// Alertmanager's http_config (bearer token, basic auth) gets through, and a
// wrong token is refused with 401 and never reaches an incident.
func TestAlertmanagerWebhookAuth(t *testing.T) {
	amBin := testenv.Alertmanager(t)
	const token = "s3cret-webhook-token"
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# rotated tokens, one a line\nold-token\n"+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := startQuell(t, buildQuell(t), "--webhook-token-file", tokens)
	am := startAlertmanagerConfig(t, amBin, fmt.Sprintf(amAuthConfig, q.url+ingest.PathAlertmanager, token))

	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	var alerts []amAlert
	for _, team := range []string{"bearer", "basic", "wrong"} {
		alerts = append(alerts, amAlert{StartsAt: started, Labels: map[string]string{
			"alertname": "DiskFull", "team": team, "service": "svc-" + team, "cluster": "prod"}})
	}
	am.post(t, alerts)

	incs := q.waitIncidents(t, "", "the bearer and basic-auth alerts in incidents", func(incs []quell.Incident) bool {
		return countAlerts(incs, "") >= 2
	})
	teams := map[string]bool{}
	for _, inc := range incs {
		for _, a := range inc.Alerts {
			teams[a.Labels["team"]] = true
		}
	}
	if !teams["bearer"] || !teams["basic"] || teams["wrong"] {
		t.Fatalf("teams in incidents %v: want bearer and basic, never wrong", teams)
	}
	eventually(t, nil, "quell to count the refused notifications", func() (bool, string) {
		n := metricSum(t, q.url, "quell_ingest_requests_rejected_total", `reason="unauthorized"`)
		return n >= 1, fmt.Sprintf("%v unauthorized rejections", n)
	})
	// Only the wrong receiver's notifications fail: the others' alerts are in incidents.
	eventually(t, nil, "Alertmanager to count the refused notifications as failed", func() (bool, string) {
		n := metricSum(t, am.url, "alertmanager_notifications_failed_total", `integration="webhook"`)
		return n >= 1, fmt.Sprintf("%v failed webhook notifications", n)
	})
}
