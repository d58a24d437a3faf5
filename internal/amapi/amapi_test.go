package amapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/silence"
)

type fakeSource []quell.Incident

func (f fakeSource) Incidents(q correlate.Query) []quell.Incident { return f }

func serve(t *testing.T, src Source) (*httptest.Server, *silence.Store) {
	t.Helper()
	st, err := silence.NewStore(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux, src, st, time.Now(), api.NewReaders())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Incidents are groups of their firing alerts; resolved members and
// filtered-out alerts are left out; bad parameters get 400 with a reason.
func TestAlertsAndGroups(t *testing.T) {
	firing := func(name, svc string) quell.IncidentAlert {
		return quell.IncidentAlert{Fingerprint: 1, Status: quell.Firing, Labels: map[string]string{"alertname": name, "service": svc}}
	}
	resolved := firing("Gone", "db")
	resolved.Status = quell.Resolved
	srv, _ := serve(t, fakeSource{
		{ID: "inc-1", Status: quell.IncidentOpen, Alerts: []quell.IncidentAlert{firing("A", "db"), resolved}},
		{ID: "inc-2", Status: quell.IncidentOpen, Alerts: []quell.IncidentAlert{firing("B", "web"), firing("C", "web")}},
	})
	code, body := do(t, "GET", srv.URL+"/api/v2/alerts/groups?filter=service%3D%22web%22", "")
	var groups []alertGroup
	if err := json.Unmarshal([]byte(body), &groups); code != 200 || err != nil {
		t.Fatalf("%d %s (%v)", code, body, err)
	}
	if len(groups) != 1 || groups[0].Labels["incident"] != "inc-2" || len(groups[0].Alerts) != 2 {
		t.Fatalf("groups: %s", body)
	}
	code, body = do(t, "GET", srv.URL+"/api/v2/alerts", "")
	var alerts []gettableAlert
	if err := json.Unmarshal([]byte(body), &alerts); code != 200 || err != nil || len(alerts) != 3 {
		t.Fatalf("%d, %d alerts (%v): %s", code, len(alerts), err, body)
	}
	for _, bad := range []string{"filter=service%3D~%22%28%22", "active=maybe", "receiver=%28"} {
		if code, body := do(t, "GET", srv.URL+"/api/v2/alerts?"+bad, ""); code != 400 || !strings.Contains(body, "\"") {
			t.Errorf("%s: %d %s, want 400 with a reason", bad, code, body)
		}
	}
}

// A silence posted as amtool posts it is stored with its matchers; what
// Alertmanager refuses gets 400, an unknown id 404.
func TestSilences(t *testing.T) {
	srv, st := serve(t, nil)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, body := do(t, "POST", srv.URL+"/api/v2/silences", `{"matchers":[{"name":"alertname","value":"Disk.*","isRegex":true},{"name":"env","value":"dev","isRegex":false,"isEqual":false}],"startsAt":"`+
		time.Now().UTC().Format(time.RFC3339)+`","endsAt":"`+end+`","createdBy":"ana","comment":"disks"}`)
	var created struct {
		ID string `json:"silenceID"`
	}
	if err := json.Unmarshal([]byte(body), &created); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	s, ok := st.Get(created.ID)
	if !ok || s.Matchers.String() != `{alertname=~"Disk.*",env!="dev"}` {
		t.Fatalf("stored %+v (%v)", s, ok)
	}
	if code, body := do(t, "POST", srv.URL+"/api/v2/silences", `{"matchers":[],"endsAt":"`+end+`","createdBy":"a","comment":"c"}`); code != 400 || !strings.Contains(body, "matcher") {
		t.Errorf("no matchers: %d %s", code, body)
	}
	if code, _ := do(t, "DELETE", srv.URL+"/api/v2/silence/nope", ""); code != 404 {
		t.Errorf("expiring an unknown silence: %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v2/alerts", ""); code != 404 && code != 405 {
		t.Errorf("alerts without a correlator: %d", code)
	}
}
