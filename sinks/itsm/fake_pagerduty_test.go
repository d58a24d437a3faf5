package itsm

import (
	"encoding/json"
	"net/http"
	"slices"
)

// fakePagerDuty implements the Events API v2 enqueue endpoint as
// documented: 202 {"status":"success","message":"Event processed",
// "dedup_key"}, 400 {"status":"invalid event","message","errors"}, 429
// when throttled. Like PagerDuty it opens an alert on a trigger for a key
// with no open alert, and resolves the open one on resolve.
type fakePagerDuty struct {
	fakeAPI
	alerts map[string][]bool // dedup_key: one entry per alert opened, true once resolved
	keys   []string
}

const routingKey = "0123456789abcdef0123456789abcdef"

func newFakePagerDuty() *fakePagerDuty {
	f := &fakePagerDuty{alerts: map[string][]bool{}}
	f.auth = func(*http.Request) bool { return true } // the routing key is the credential
	f.errBody = func(code int, msg string) any {
		if code == http.StatusTooManyRequests {
			return map[string]string{"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}
		}
		return map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}}
	}
	f.retryAfter = "1"
	return f
}

func (f *fakePagerDuty) config(url string) Config {
	return Config{PagerDuty: []PagerDutyConfig{{Common: Common{Name: "oncall", Templates: Templates{
		Links: []Link{{Text: "Runbook", URL: "https://runbooks.example.com/{{.CommonLabels.alertname}}"}, {Text: "none", URL: "{{.CommonLabels.nosuch}}"}}}}, URL: url + "/v2/enqueue", RoutingKey: routingKey}}}
}

func (f *fakePagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, answered := f.intercept(w, r)
	if answered {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		f.error(w, http.StatusNotFound, "not found")
		return
	}
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		DedupKey    string `json:"dedup_key"`
		EventAction string `json:"event_action"`
		Payload     *struct {
			Summary, Source, Severity string
		} `json:"payload"`
	}
	var errs []string
	if err := json.Unmarshal(body, &ev); err != nil {
		errs = append(errs, "Could not parse the request body as JSON")
	}
	if len(ev.RoutingKey) != 32 {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	switch ev.EventAction {
	case "trigger":
		if ev.Payload == nil || ev.Payload.Summary == "" || ev.Payload.Source == "" {
			errs = append(errs, "'payload' is missing or incomplete")
		} else if !slices.Contains(pdSeverities, ev.Payload.Severity) {
			errs = append(errs, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			errs = append(errs, "'dedup_key' is missing")
		}
	default:
		errs = append(errs, "'event_action' is invalid")
	}
	if len(errs) > 0 {
		reply(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	hist := f.alerts[ev.DedupKey]
	open := len(hist) > 0 && !hist[len(hist)-1]
	switch {
	case ev.EventAction == "trigger" && !open:
		if hist == nil {
			f.keys = append(f.keys, ev.DedupKey)
		}
		f.alerts[ev.DedupKey] = append(hist, false)
	case ev.EventAction == "resolve" && open:
		hist[len(hist)-1] = true
	}
	reply(w, http.StatusAccepted, map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func (f *fakePagerDuty) tickets(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.keys, id) {
		return []string{id}
	}
	return nil
}

func (f *fakePagerDuty) resolved(ticket string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.alerts[ticket]
	return len(h) > 0 && h[len(h)-1]
}
