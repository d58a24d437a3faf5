package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

type fakeSource []quell.Incident

func (f fakeSource) Incidents(status quell.IncidentStatus) []quell.Incident {
	var out []quell.Incident
	for _, inc := range f {
		if status == "" || inc.Status == status {
			out = append(out, inc)
		}
	}
	return out
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
	src := fakeSource{
		{ID: "a", Status: quell.IncidentOpen, Alerts: []quell.IncidentAlert{{Reason: "no related open incident"}}},
		{ID: "b", Status: quell.IncidentResolved},
	}
	notReady := errors.New("bus unreachable")
	ready := error(nil)
	dead := sinks.NewDeadLetters(t.TempDir())
	if err := dead.Add("jira/ops", "answered 400", quell.IncidentChange{Seq: 3, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	Register(mux, src)
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
