package amapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/silence"
)

type fakeSource []quell.Incident

// Incidents answers q over f, which is newest first.
func (f fakeSource) Incidents(q correlate.Query) []quell.Incident {
	var out []quell.Incident
	for _, inc := range f {
		if (q.Status == "" || inc.Status == q.Status) && q.After.Before(correlate.CursorOf(inc)) {
			out = append(out, inc)
		}
	}
	return out[:q.Taken(len(out), func(i int) int { return len(out[i].Alerts) })]
}

// copies is a source that records how many alerts each query copied.
type copies struct {
	fakeSource
	copied []int
}

func (c *copies) Incidents(q correlate.Query) []quell.Incident {
	out := c.fakeSource.Incidents(q)
	n := 0
	for _, inc := range out {
		n += len(inc.Alerts)
	}
	c.copied = append(c.copied, n)
	return out
}

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

// TestAlertsInPages: open incidents holding more alerts than a page of the
// read API are read a page at a time, and every firing alert is answered
// once, in its incident's group.
func TestAlertsInPages(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	src := &copies{}
	sizes := []int{2000, 2000, 2000, api.MaxPageAlerts + 1000, 10}
	total := 0
	for i, n := range sizes {
		inc := quell.Incident{ID: fmt.Sprintf("inc-%d", i), Status: quell.IncidentOpen, CreatedAt: t0.Add(-time.Duration(i) * time.Second)}
		for j := range n {
			inc.Alerts = append(inc.Alerts, quell.IncidentAlert{Fingerprint: quell.Fingerprint(total + j), Status: quell.Firing,
				Labels: map[string]string{"alertname": "A", "n": strconv.Itoa(total + j)}})
		}
		total += n
		src.fakeSource = append(src.fakeSource, inc)
	}
	srv, _ := serve(t, src)
	code, body := do(t, "GET", srv.URL+"/api/v2/alerts", "")
	var alerts []gettableAlert
	if err := json.Unmarshal([]byte(body), &alerts); code != 200 || err != nil {
		t.Fatalf("%d (%v)", code, err)
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		seen[a.Labels["n"]] = true
	}
	if len(alerts) != total || len(seen) != total {
		t.Fatalf("%d alerts answered, %d distinct; want each of %d once", len(alerts), len(seen), total)
	}
	for _, n := range src.copied {
		if n >= total {
			t.Fatalf("queries copied %v alerts: one read all %d at once", src.copied, total)
		}
	}
	code, body = do(t, "GET", srv.URL+"/api/v2/alerts/groups", "")
	var groups []alertGroup
	if err := json.Unmarshal([]byte(body), &groups); code != 200 || err != nil {
		t.Fatalf("%d (%v)", code, err)
	}
	var got []int
	for _, g := range groups {
		got = append(got, len(g.Alerts))
	}
	if fmt.Sprint(got) != fmt.Sprint(sizes) {
		t.Fatalf("groups of %v alerts, want %v", got, sizes)
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
