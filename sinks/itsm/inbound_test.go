package itsm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// TestInbound: what people do with quell's tickets in PagerDuty, Jira and
// ServiceNow comes back as feedback for the incident whose ticket it is,
// only when authenticated with the tool's webhook secret.
func TestInbound(t *testing.T) {
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{Sink: "pagerduty/oncall", Incident: "d3640fbd41094207a1c11e58e46b1662", Ticket: Ticket{ID: "d3640fbd41094207a1c11e58e46b1662"}},
		{Sink: "jira/ops", Incident: "inc-2", Ticket: Ticket{ID: "OPS-7"}},
		{Sink: "servicenow/prod", Incident: "inc-3", Ticket: Ticket{ID: "9d385017c611228701d22104cc95c371", Number: "INC0010002"}},
	} {
		if err := store.put(r); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		PagerDuty:  []PagerDutyConfig{{Common: Common{Name: "oncall", WebhookSecret: "pd-secret"}}},
		Jira:       []JiraConfig{{Common: Common{Name: "ops", WebhookSecret: "jira-secret"}, DoneStatus: "Done", AckStatuses: []string{"In Progress"}}},
		ServiceNow: []ServiceNowConfig{{Common: Common{Name: "prod", WebhookSecret: "sn-token"}, Username: "quell", AckState: "2", ResolveState: "6"}},
	}
	var got []quell.Feedback
	mux := http.NewServeMux()
	cfg.Inbound(mux, store, func(_ context.Context, f *quell.Feedback) (string, error) {
		for _, g := range got {
			if g.Action == f.Action && g.Incident == f.Incident && g.Assignee == f.Assignee {
				return f.Incident, correlate.ErrNoChange // as the correlator answers it
			}
		}
		got = append(got, *f)
		return f.Incident, nil
	})
	post := func(path string, body []byte, header ...string) (int, string) {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	file := func(name string) []byte {
		b, err := os.ReadFile("testdata/inbound/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	last := func() quell.Feedback {
		t.Helper()
		if len(got) == 0 {
			t.Fatal("no feedback")
		}
		return got[len(got)-1]
	}

	// PagerDuty: signed (a rotated secret's signature beside it) or refused.
	pd := file("pagerduty_incident_acknowledged.json")
	if code, body := post("/webhooks/itsm/pagerduty", pd, "X-PagerDuty-Signature", "v1="+sign("wrong", pd)); code != 401 || len(got) != 0 {
		t.Fatalf("a wrong signature: %d %s, %d feedbacks", code, body, len(got))
	}
	if code, _ := post("/webhooks/itsm/pagerduty", pd); code != 401 {
		t.Fatalf("no signature: %d", code)
	}
	sig := "v1=" + sign("old-secret", pd) + ",v1=" + sign("pd-secret", pd)
	if code, body := post("/webhooks/itsm/pagerduty", pd, "X-PagerDuty-Signature", sig); code != 200 || !strings.Contains(body, `"applied"`) {
		t.Fatalf("signed acknowledgement: %d %s", code, body)
	}
	if f := last(); f.Action != quell.FeedbackAcknowledge || f.Incident != "d3640fbd41094207a1c11e58e46b1662" || f.Actor != "Tenex Engineer" || f.Via != "pagerduty" ||
		!f.At.Equal(time.Date(2020, 10, 2, 18, 45, 22, 169e6, time.UTC)) {
		t.Fatalf("feedback %+v", f)
	}
	if code, body := post("/webhooks/itsm/pagerduty", pd, "X-PagerDuty-Signature", sig); code != 200 || !strings.Contains(body, `"unchanged"`) {
		t.Fatalf("the same event again: %d %s, want 200 unchanged", code, body)
	}
	reassigned := bytes.Replace(pd, []byte(`"incident.acknowledged"`), []byte(`"incident.reassigned"`), 1)
	if code, _ := post("/webhooks/itsm/pagerduty", reassigned, "X-PagerDuty-Signature", "v1="+sign("pd-secret", reassigned)); code != 200 || last().Assignee != "User 123" {
		t.Fatalf("reassigned: %d, %+v", code, last())
	}
	other := bytes.Replace(pd, []byte("d3640fbd41094207a1c11e58e46b1662"), []byte("not-quells"), 1)
	if code, body := post("/webhooks/itsm/pagerduty", other, "X-PagerDuty-Signature", "v1="+sign("pd-secret", other)); code != 200 || !strings.Contains(body, "ignored") {
		t.Fatalf("an incident quell did not open: %d %s", code, body)
	}

	// Jira: X-Hub-Signature; In Progress acknowledges, Done resolves.
	jr := file("jira_issue_updated_status.json")
	if code, _ := post("/webhooks/itsm/jira", jr, "X-Hub-Signature", "sha256="+sign("wrong", jr)); code != 401 {
		t.Fatalf("jira, wrong signature: %d", code)
	}
	if code, body := post("/webhooks/itsm/jira", jr, "X-Hub-Signature", "sha256="+sign("jira-secret", jr)); code != 200 || last().Action != quell.FeedbackAcknowledge ||
		last().Incident != "inc-2" || last().Actor != "Mia Krystof" {
		t.Fatalf("jira In Progress: %d %s %+v", code, body, last())
	}
	done := bytes.Replace(jr, []byte(`"toString": "In Progress"`), []byte(`"toString": "Done"`), 1)
	if code, _ := post("/webhooks/itsm/jira", done, "X-Hub-Signature", "sha256="+sign("jira-secret", done)); code != 200 || last().Action != quell.FeedbackResolve {
		t.Fatalf("jira Done: %d %+v", code, last())
	}

	// ServiceNow: a bearer token; state 2 acknowledges, 6 resolves, what
	// quell's own user changed is left out.
	sn := file("servicenow_incident_state.json")
	if code, _ := post("/webhooks/itsm/servicenow", sn, "Authorization", "Bearer nope"); code != 401 {
		t.Fatalf("servicenow, wrong token: %d", code)
	}
	if code, _ := post("/webhooks/itsm/servicenow", sn, "Authorization", "Bearer sn-token"); code != 200 || last().Action != quell.FeedbackAcknowledge ||
		last().Incident != "inc-3" || last().Actor != "beth.anglin" {
		t.Fatalf("servicenow state 2: %d %+v", code, last())
	}
	n := len(got)
	own := bytes.Replace(bytes.Replace(sn, []byte("beth.anglin"), []byte("quell"), 1), []byte(`"state": "2"`), []byte(`"state": "6"`), 1)
	if code, body := post("/webhooks/itsm/servicenow", own, "Authorization", "Bearer sn-token"); code != 200 || len(got) != n || !strings.Contains(body, "quell made itself") {
		t.Fatalf("servicenow, quell's own change: %d %s", code, body)
	}
	resolved := bytes.Replace(sn, []byte(`"state": "2"`), []byte(`"state": "6"`), 1)
	if code, _ := post("/webhooks/itsm/servicenow", resolved, "Authorization", "Bearer sn-token"); code != 200 || last().Action != quell.FeedbackResolve {
		t.Fatalf("servicenow state 6: %d %+v", code, last())
	}
}
