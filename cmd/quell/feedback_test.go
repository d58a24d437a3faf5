package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/testenv"
)

// act posts a feedback request and returns the status and the answer.
func act(t *testing.T, url, body string) (int, api.FeedbackResult, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res api.FeedbackResult
	json.Unmarshal(b, &res)
	return resp.StatusCode, res, string(b)
}

// feedbackStorm posts three alerts at once: two on web, one on db; endsAt
// in the past resolves them.
func feedbackStorm(t *testing.T, url string, resolved bool) {
	t.Helper()
	ends := ""
	if resolved {
		ends = `,"endsAt":"` + time.Now().Add(-time.Second).UTC().Format(time.RFC3339) + `"`
	}
	var alerts []string
	for _, l := range []string{`"alertname":"HighLatency","service":"web"`, `"alertname":"DiskFull","service":"db"`, `"alertname":"ErrorBudgetBurn","service":"web"`} {
		alerts = append(alerts, `{"labels":{`+l+`}`+ends+`}`)
	}
	postOK(t, url+"/api/v2/alerts", []byte("["+strings.Join(alerts, ",")+"]"))
}

// TestFeedback drives the feedback API of quell serve: an operator
// acknowledges an incident, merges another into it and moves an alert out
// of it; each is a decision naming the operator in the decision log, the
// merged incident's webhook hears it merged, and bad requests change
// nothing. A kill -9 and restart keep it all. The same storm, once the
// first has closed, groups as the operator said.
func TestFeedback(t *testing.T) {
	hooks, hookURL := newHookLog(t)
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	e := newEmbedded(t, filepath.Join(t.TempDir(), "data"), fmt.Sprintf(`decisions: %s
correlate:
  group_wait: 1s
  resolve_hold: 1s
  reopen_window: 2s
webhooks:
  - name: hook
    url: %s
`, decisions, hookURL))
	p := e.start(t)
	eventually(t, p, "ready", e.ready)
	url := e.url("")
	feedbackStorm(t, url, false)
	first := openByAlertname(t, p, url, 3)
	web, db := first["HighLatency"].ID, first["DiskFull"].ID
	if web == db || first["ErrorBudgetBurn"].ID != web {
		t.Fatalf("the storm grouped as web %s, db %s, burn %s; want db apart", web, db, first["ErrorBudgetBurn"].ID)
	}

	// Announced (after group_wait): a merge then reaches db's receivers.
	eventually(t, p, "the incidents to be announced", func() (bool, string) {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		return hooks.kinds[db][quell.IncidentCreated] && hooks.kinds[web][quell.IncidentCreated], fmt.Sprint(hooks.kinds)
	})

	// Requests that cannot apply change nothing.
	for _, bad := range []struct {
		path, body string
		code       int
	}{
		{"/api/v1/incidents/" + web + "/ack", `{"comment":"no actor"}`, 400},
		{"/api/v1/incidents/" + web + "/ack", `{"actor":"alice","colour":"red"}`, 400},
		{"/api/v1/incidents/nosuch/ack", `{"actor":"alice"}`, 404},
		{"/api/v1/incidents/" + web + "/merge", `{"actor":"alice","into":"` + web + `"}`, 400},
		{"/api/v1/incidents/" + db + "/merge", `{"actor":"alice","into":"nosuch"}`, 404},
		{"/api/v1/alerts/zz/move", `{"actor":"alice","to":"new"}`, 400},
		{"/api/v1/alerts/0123456789abcdef/move", `{"actor":"alice","to":"new"}`, 404},
	} {
		if code, _, body := act(t, url+bad.path, bad.body); code != bad.code {
			t.Errorf("POST %s %s: %d %s, want %d", bad.path, bad.body, code, body, bad.code)
		}
	}

	code, res, body := act(t, url+"/api/v1/incidents/"+web+"/ack", `{"actor":"alice","comment":"on it"}`)
	if code != 200 || res.Result != "applied" || res.Incident == nil || res.Incident.AcknowledgedBy != "alice" {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, res, body := act(t, url+"/api/v1/incidents/"+web+"/ack", `{"actor":"bob"}`); code != 200 || res.Result != "unchanged" {
		t.Fatalf("a second ack: %d %s, want 200 unchanged", code, body)
	}
	code, res, body = act(t, url+"/api/v1/incidents/"+db+"/merge", `{"actor":"alice","into":"`+web+`","comment":"the disk slows web"}`)
	if code != 200 || res.Incident == nil || res.Incident.ID != web || len(res.Incident.Alerts) != 3 {
		t.Fatalf("merge: %d %s", code, body)
	}
	burn := first["ErrorBudgetBurn"].Alerts
	var burnFP quell.Fingerprint
	for _, a := range first["ErrorBudgetBurn"].Alerts {
		if a.Labels["alertname"] == "ErrorBudgetBurn" {
			burnFP = a.Fingerprint
		}
	}
	code, res, body = act(t, url+"/api/v1/alerts/"+burnFP.String()+"/move", `{"actor":"bob","to":"new","comment":"a budget alert, not the outage"}`)
	if code != 200 || res.Incident == nil || res.Incident.ID == web || len(res.Incident.Alerts) != 1 {
		t.Fatalf("move (burn alerts %d): %d %s", len(burn), code, body)
	}
	own := res.Incident.ID

	// Killed at once: the journal and the saved state keep the feedback.
	p.cmd.Process.Kill()
	<-p.done
	p = e.start(t)
	p.wantCleanExit = true
	eventually(t, p, "ready after kill -9", e.ready)
	after := openByAlertname(t, p, url, 3)
	if inc := after["DiskFull"]; inc.ID != web || inc.AcknowledgedBy != "alice" || after["HighLatency"].ID != web || after["ErrorBudgetBurn"].ID != own {
		t.Fatalf("after a restart: DiskFull in %s (acknowledged by %q), HighLatency in %s, ErrorBudgetBurn in %s; want %s, alice, %s, %s",
			inc.ID, inc.AcknowledgedBy, after["HighLatency"].ID, after["ErrorBudgetBurn"].ID, web, web, own)
	}

	// The decision log names the operators; the webhook heard the merge.
	eventually(t, p, "the feedback decisions in the log", func() (bool, string) {
		got := feedbackDecisions(t, decisions)
		return got["acknowledged alice "+web] && got["merged alice "+web] && got["moved bob "+own], fmt.Sprint(got)
	})
	eventually(t, p, "the webhook to hear of the merge", func() (bool, string) {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		return hooks.kinds[db][quell.IncidentMerged], fmt.Sprint(hooks.kinds[db])
	})

	// The timeline tells what happened, across the restart; the graph
	// shows what the incident's alerts are about.
	var tl struct {
		Events []struct{ Kind, Actor, Title string }
	}
	if err := getJSON(url+"/api/v1/incidents/"+web+"/timeline", &tl); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tl.Events {
		kinds = append(kinds, e.Kind+"/"+e.Actor)
	}
	if got := strings.Join(kinds, " "); !strings.Contains(got, "created/ ") || !strings.Contains(got, "acknowledged/alice") || !strings.Contains(got, "merged/alice") {
		t.Errorf("web's timeline: %s; want its creation, alice's acknowledgement and merge", got)
	}
	var nb struct{ Nodes []struct{ Name string } }
	if err := getJSON(url+"/api/v1/incidents/"+web+"/graph", &nb); err != nil {
		t.Fatal(err)
	}
	if len(nb.Nodes) == 0 || nb.Nodes[0].Name != "web" && nb.Nodes[0].Name != "db" {
		t.Errorf("web's graph: %+v; want its services", nb)
	}

	// The merged incident is still served, as a duplicate of web's.
	eventually(t, p, "the merged incident served from the history", func() (bool, string) {
		resp, err := http.Get(url + "/api/v1/incidents/" + db)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var inc quell.Incident
		json.NewDecoder(resp.Body).Decode(&inc)
		return inc.MergedInto == web && inc.Status == quell.IncidentResolved && inc.ResolvedBy == "alice", fmt.Sprintf("%d %+v", resp.StatusCode, inc)
	})

	// The storm ends, its incidents close and are forgotten; the same storm
	// again groups as the operators said.
	feedbackStorm(t, url, true)
	eventually(t, p, "the storm's incidents to close", func() (bool, string) {
		incs, err := listIncidents(url, "open")
		return err == nil && len(incs) == 0, fmt.Sprint(len(incs), err)
	})
	time.Sleep(3500 * time.Millisecond) // past the reopen window (2s) and a tick: forgotten, not reopened
	feedbackStorm(t, url, false)
	again := openByAlertname(t, p, url, 3)
	if again["DiskFull"].ID != again["HighLatency"].ID || again["ErrorBudgetBurn"].ID == again["HighLatency"].ID {
		t.Fatalf("the storm again: HighLatency in %s, DiskFull in %s, ErrorBudgetBurn in %s; want DiskFull with HighLatency, ErrorBudgetBurn apart",
			again["HighLatency"].ID, again["DiskFull"].ID, again["ErrorBudgetBurn"].ID)
	}
	for _, a := range again["DiskFull"].Alerts {
		if a.Labels["alertname"] == "DiskFull" && !strings.Contains(a.Reason, "a person grouped them before") {
			t.Errorf("DiskFull joined for %q; want the teaching named", a.Reason)
		}
	}
}

// openByAlertname waits until want alerts are in open incidents at url's
// API and maps each alertname to its incident.
func openByAlertname(t *testing.T, p *proc, url string, want int) map[string]quell.Incident {
	t.Helper()
	got := map[string]quell.Incident{}
	eventually(t, p, fmt.Sprintf("%d alerts in open incidents", want), func() (bool, string) {
		clear(got)
		incs, err := listIncidents(url, "open")
		if err != nil {
			return false, err.Error()
		}
		for _, inc := range incs {
			for _, a := range inc.Alerts {
				got[a.Labels["alertname"]] = inc
			}
		}
		return len(got) == want, fmt.Sprint(len(got))
	})
	return got
}

// TestSplitFeedback: in split mode the correlator's API takes feedback; it
// travels through the incident's alerts partition, so a correlator killed
// with SIGKILL and started again has it, the sink stage logs it and the
// merged incident's webhook hears it (through the incidents topic, which
// the sink stage reads for the webhook: ingest reports that group's lag).
func TestSplitFeedback(t *testing.T) {
	hooks, hookURL := newHookLog(t)
	s := newSplit(t, buildQuell(t), testenv.Kafka(t))
	s.configure("webhooks:\n  - name: hook\n    url: " + hookURL + "\n")
	ing := s.start("ingest")
	s.start("sink")
	corr := s.start("correlate")
	api := "http://" + listenRE.FindStringSubmatch(corr.out.String())[1]
	feedbackStorm(t, s.ingestBase, false)
	first := openByAlertname(t, corr, api, 3)
	web, db := first["HighLatency"].ID, first["DiskFull"].ID
	if web == db {
		t.Fatalf("the storm grouped web and db together in %s", web)
	}
	time.Sleep(time.Second) // past group_wait (300ms): announced
	if code, res, body := act(t, api+"/api/v1/incidents/"+db+"/merge", `{"actor":"alice","into":"`+web+`"}`); code != 200 || res.Incident == nil || len(res.Incident.Alerts) != 3 {
		t.Fatalf("merge: %d %s", code, body)
	}
	if code, res, body := act(t, api+"/api/v1/incidents/"+web+"/ack", `{"actor":"bob"}`); code != 200 || res.Incident.AcknowledgedBy != "bob" {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, _, body := act(t, api+"/api/v1/incidents/"+db+"/ack", `{"actor":"bob"}`); code != 404 {
		t.Fatalf("ack of the merged incident: %d %s, want 404", code, body)
	}
	killHard(t, corr)
	corr = s.start("correlate")
	api = "http://" + listenRE.FindStringSubmatch(corr.out.String())[1]
	// The new correlator answers from its last checkpoint as soon as it
	// restored it, before it has handled again what came after (the merge
	// and the acknowledgement may be among that): wait for it to catch up.
	eventually(t, corr, "DiskFull in "+web+" acknowledged by bob after kill -9 and a new correlator", func() (bool, string) {
		incs, err := listIncidents(api, "open")
		if err != nil {
			return false, err.Error()
		}
		for _, inc := range incs {
			for _, a := range inc.Alerts {
				if a.Labels["alertname"] == "DiskFull" {
					return inc.ID == web && inc.AcknowledgedBy == "bob", fmt.Sprintf("in %s acknowledged by %q", inc.ID, inc.AcknowledgedBy)
				}
			}
		}
		return false, "DiskFull in no open incident"
	})
	eventually(t, corr, "the feedback decisions in the sink's log", func() (bool, string) {
		got := feedbackDecisions(t, s.decisions)
		return got["merged alice "+web] && got["acknowledged bob "+web], fmt.Sprint(got)
	})
	eventually(t, corr, "the webhook to hear of the merge", func() (bool, string) {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		return hooks.kinds[db][quell.IncidentMerged], fmt.Sprint(hooks.kinds[db])
	})
	eventually(t, ing, "ingest's /metrics to show the sink stage's lag on the incidents topic", func() (bool, string) {
		m := scrape(t, s.ingestBase)
		return regexp.MustCompile(`quell_kafka_consumer_lag\{group="[^"]+-sink-incidents",topic="[^"]+\.incidents"\} \d`).MatchString(m), m
	})
}

// feedbackDecisions lists the decision log's feedback as "action actor incident".
func feedbackDecisions(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var d quell.Decision
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.Actor != "" {
			out[string(d.Action)+" "+d.Actor+" "+d.Incident] = true
		}
	}
	return out
}
