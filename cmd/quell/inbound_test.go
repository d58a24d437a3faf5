package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/testenv"
	"github.com/quellhq/quell/sinks/clickhouse"
)

// TestPagerDutyAcknowledgementToMTTA: quell serve opens a PagerDuty alert
// for an incident (Events API v2, a local endpoint answering as documented);
// PagerDuty's signed v3 webhook that someone acknowledged it reaches
// /webhooks/itsm/pagerduty. A wrong signature gets 401 and changes nothing;
// the signed one acknowledges the incident in quell, by the person named,
// and MTTA appears for it in ClickHouse, as the service-response panel
// reads it.
func TestPagerDutyAcknowledgementToMTTA(t *testing.T) {
	dsn := testenv.ClickHouseDatabase(t)
	events, pdURL := pagerDutyEvents(t)
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`clickhouse:
  dsn: %s
  batch_age: 200ms
correlate:
  group_wait: 1s
itsm:
  pagerduty:
    - name: oncall
      url: %s/v2/enqueue
      routing_key: 0123456789abcdef0123456789abcdef
      webhook_secret: pd-secret
`, dsn, pdURL))
	if out, err := exec.Command(e.bin, "migrate", "--clickhouse", dsn).CombinedOutput(); err != nil {
		t.Fatalf("quell migrate: %v\n%s", err, out)
	}
	p := e.start(t)
	p.wantCleanExit = true
	eventually(t, p, "ready", e.ready)
	resp, err := http.Post(e.url("/api/v2/alerts"), "application/json",
		strings.NewReader(`[{"labels":{"alertname":"HighLatency","service":"checkout","severity":"critical"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var inc quell.Incident
	eventually(t, p, "the PagerDuty alert", func() (bool, string) {
		incs, err := listIncidents(e.url(""), "open")
		if err != nil || len(incs) != 1 {
			return false, fmt.Sprint(len(incs), err)
		}
		inc = incs[0]
		evs := events()
		return len(evs) > 0 && strings.HasPrefix(evs[0], "trigger "), fmt.Sprint(evs)
	})

	doc, err := os.ReadFile("../../sinks/itsm/testdata/inbound/pagerduty_incident_acknowledged.json")
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Replace(doc, []byte("d3640fbd41094207a1c11e58e46b1662"), []byte(inc.ID), 1)
	body = bytes.Replace(body, []byte("2020-10-02T18:45:22.169Z"), []byte(time.Now().UTC().Format(time.RFC3339Nano)), 1)
	send := func(secret string) (int, string) {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, e.url("/webhooks/itsm/pagerduty"), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-PagerDuty-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, out := send("not-the-secret"); code != 401 {
		t.Fatalf("a wrong signature: %d %s, want 401", code, out)
	}
	time.Sleep(500 * time.Millisecond)
	if got, _ := listIncidents(e.url(""), "open"); len(got) != 1 || got[0].AcknowledgedBy != "" {
		t.Fatalf("after a wrongly signed webhook the incident is %+v; want it unacknowledged", got)
	}
	if code, out := send("pd-secret"); code != 200 || !strings.Contains(out, `"applied"`) {
		t.Fatalf("the signed acknowledgement: %d %s", code, out)
	}
	if got, _ := listIncidents(e.url(""), "open"); len(got) != 1 || got[0].AcknowledgedBy != "Tenex Engineer" {
		t.Fatalf("after the signed webhook the incident is %+v; want it acknowledged by Tenex Engineer", got)
	}

	conn, err := clickhouse.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := clickhouse.NewAnalytics(conn)
	eventually(t, p, "MTTA in ClickHouse", func() (bool, string) {
		tab, err := a.Run(context.Background(), clickhouse.Query{Type: clickhouse.ServiceResponse,
			From: inc.CreatedAt.Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return false, err.Error()
		}
		if tab.Rows != 1 {
			return false, fmt.Sprintf("%d rows", tab.Rows)
		}
		mtta := tab.Values[5].([]*float64)[0]
		return mtta != nil && *mtta >= 0 && *mtta < 60, fmt.Sprintf("service %v, MTTA %v", tab.Values[0], mtta)
	})
}
