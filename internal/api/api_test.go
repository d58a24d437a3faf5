package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

type fakeSource []quell.Incident

// Incidents answers q over f, which is newest first.
func (f fakeSource) Incidents(q correlate.Query) []quell.Incident {
	out := []quell.Incident{}
	for _, inc := range f {
		if (q.Status == "" || inc.Status == q.Status) && q.After.Before(correlate.CursorOf(inc)) && q.Holds(inc.Alerts) {
			out = append(out, inc)
		}
	}
	return out[:q.Taken(len(out), func(i int) int { return len(out[i].Alerts) })]
}

func (f fakeSource) Incident(id string) (quell.Incident, bool) {
	for _, inc := range f {
		if inc.ID == id {
			return inc, true
		}
	}
	return quell.Incident{}, false
}

func TestRoutes(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	src := fakeSource{
		{ID: "a", Status: quell.IncidentOpen, CreatedAt: t0.Add(time.Second), Alerts: []quell.IncidentAlert{
			{Reason: "no related open incident", Labels: map[string]string{"alertname": "HighLatency", "service": "checkout"}}}},
		{ID: "b", Status: quell.IncidentResolved, CreatedAt: t0},
	}
	notReady := errors.New("bus unreachable")
	ready := error(nil)
	dead := sinks.NewDeadLetters(t.TempDir())
	if err := dead.Add("jira/ops", "answered 400", quell.IncidentChange{Seq: 3, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux, src, NewReaders())
	RegisterHealth(mux, func() error { return ready })
	RegisterDeadLetters(mux, dead.List)
	tests := []struct {
		path string
		code int
		want func(t *testing.T, body map[string]any)
	}{
		{"/api/v1/incidents", 200, func(t *testing.T, b map[string]any) {
			if n := len(b["incidents"].([]any)); n != 2 {
				t.Fatalf("%d incidents, want 2", n)
			}
		}},
		{"/api/v1/incidents?status=resolved", 200, func(t *testing.T, b map[string]any) {
			if l := b["incidents"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != "b" {
				t.Fatalf("resolved: %v", l)
			}
		}},
		{"/api/v1/incidents?status=closed", 400, func(t *testing.T, b map[string]any) {
			if b["error"] == nil {
				t.Fatal("no error message")
			}
		}},
		{`/api/v1/incidents?filter=service%3D~%22check.*%22`, 200, func(t *testing.T, b map[string]any) {
			if l := b["incidents"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != "a" {
				t.Fatalf(`filter service=~"check.*": %v`, l)
			}
		}},
		{`/api/v1/incidents?filter=%7Bservice%3D%22checkout%22,alertname!%3D%22HighLatency%22%7D`, 200, func(t *testing.T, b map[string]any) {
			if l := b["incidents"].([]any); len(l) != 0 {
				t.Fatalf(`filter {service="checkout",alertname!="HighLatency"}: %v`, l)
			}
		}},
		{`/api/v1/incidents?filter=service%3D~%22(%22`, 400, nil},
		{"/api/v1/incidents?limit=0", 400, nil},
		{"/api/v1/incidents?limit=5000", 400, nil},
		{"/api/v1/incidents?cursor=garbage", 400, nil},
		{"/api/v1/incidents/a", 200, func(t *testing.T, b map[string]any) {
			if b["alerts"].([]any)[0].(map[string]any)["reason"] != "no related open incident" {
				t.Fatalf("reason missing: %v", b)
			}
		}},
		{"/api/v1/incidents/zzz", 404, nil},
		{"/api/v1/deadletters", 200, func(t *testing.T, b map[string]any) {
			l := b["deadletters"].([]any)
			if len(l) != 1 || l[0].(map[string]any)["reason"] != "answered 400" {
				t.Fatalf("dead letters: %v", l)
			}
		}},
		{"/healthz", 200, nil},
		{"/readyz", 200, nil},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.code {
			t.Fatalf("%s: %d, want %d: %s", tt.path, rec.Code, tt.code, rec.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: not JSON: %s", tt.path, rec.Body)
		}
		if tt.want != nil {
			tt.want(t, body)
		}
	}
	ready = notReady
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while not ready: %d", rec.Code)
	}
}

// TestIncidentsPages: ?limit pages the incidents, newest first, and each
// page's next cursor leads to the following one until none is left.
// TestIncidentsPages: pages of ?limit incidents, or fewer when their alerts
// would pass MaxPageAlerts (one incident at least), follow one another by
// cursor and hold every incident once.
func TestIncidentsPages(t *testing.T) {
	pages(t, "limit=3", 0, "[3 3 1]")
	pages(t, "limit=100", MaxPageAlerts*2/5, "[2 2 2 1]") // a third would pass the bound
	pages(t, "limit=100", MaxPageAlerts+1, "[1 1 1 1 1 1 1]")
}

func pages(t *testing.T, limit string, alerts int, want string) {
	t.Helper()
	t0 := time.Unix(1_700_000_000, 0)
	var src fakeSource
	for i := range 7 {
		src = append(src, quell.Incident{ID: fmt.Sprintf("i%d", i), Status: quell.IncidentOpen, CreatedAt: t0.Add(-time.Duration(i) * time.Second),
			Alerts: make([]quell.IncidentAlert, alerts)})
	}
	mux := http.NewServeMux()
	Register(mux, src, NewReaders())
	var seen []string
	var sizes []int
	for path := "/api/v1/incidents?" + limit; path != ""; {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var page struct {
			Incidents []quell.Incident `json:"incidents"`
			Next      string           `json:"next"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		sizes = append(sizes, len(page.Incidents))
		for _, inc := range page.Incidents {
			seen = append(seen, inc.ID)
		}
		path = ""
		if page.Next != "" {
			path = "/api/v1/incidents?" + limit + "&cursor=" + page.Next
		}
	}
	if fmt.Sprint(sizes) != want || fmt.Sprint(seen) != "[i0 i1 i2 i3 i4 i5 i6]" {
		t.Fatalf("%s, %d alerts each: pages of %v holding %v; want %s holding every incident once, newest first", limit, alerts, sizes, seen, want)
	}
}
