package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// postWith posts one v2 alert with a bearer token and returns the status.
func postWith(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v2/alerts", bytes.NewReader([]byte(`[{"labels":{"alertname":"Reload"}}]`)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// reloadOver posts /-/reload with the API token and returns the status and
// body.
func reloadOver(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/-/reload", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReload changes the webhook token file and reloads, by POST /-/reload
// and by SIGHUP: the new token takes effect and the old one stops working,
// without a restart. A broken configuration file is refused and the
// running tokens stay; a changed section that needs a restart is named.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	hooks, api := filepath.Join(dir, "webhook-tokens"), filepath.Join(dir, "api-tokens")
	writeFile(t, hooks, "first-token\n")
	writeFile(t, api, "api-token\n")
	cfg := "ingest:\n  webhook_token_files: [" + hooks + "]\napi_token_files: [" + api + "]\n"
	e := newEmbedded(t, filepath.Join(dir, "data"), cfg)
	p := e.start(t)
	p.wantCleanExit = true
	url := "http://" + e.addr
	eventually(t, p, "ready", e.ready)
	if code := postWith(t, url, "first-token"); code != 200 {
		t.Fatalf("the configured token: %d", code)
	}

	writeFile(t, hooks, "second-token\n")
	if code, body := reloadOver(t, url, "wrong"); code != 401 {
		t.Fatalf("reload without the API token: %d %s", code, body)
	}
	code, body := reloadOver(t, url, "api-token")
	var res struct {
		Applied []string `json:"applied"`
		Restart []string `json:"restart_needed"`
	}
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || !strings.Contains(strings.Join(res.Applied, ","), "webhook tokens (1)") {
		t.Fatalf("POST /-/reload: %d %s", code, body)
	}
	if code := postWith(t, url, "first-token"); code != 401 {
		t.Errorf("the replaced token still works: %d", code)
	}
	if code := postWith(t, url, "second-token"); code != 200 {
		t.Errorf("the new token is refused: %d", code)
	}

	// A broken file is refused whole: the running tokens stay.
	writeFile(t, hooks, "third-token\n")
	writeFile(t, e.config, cfg+"correlate:\n  join_scor: 0.4\n")
	if code, body := reloadOver(t, url, "api-token"); code != 400 || !strings.Contains(body, "join_scor") {
		t.Errorf("a misspelt field: %d %s, want 400 naming it", code, body)
	}
	if code := postWith(t, url, "second-token"); code != 200 {
		t.Errorf("after a refused reload the running token is refused: %d", code)
	}

	// SIGHUP reloads too; a section quell cannot change while running is named.
	writeFile(t, e.config, cfg+"correlate:\n  join_score: 0.4\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, p, "the SIGHUP reload", func() (bool, string) {
		return postWith(t, url, "third-token") == 200, p.out.String()
	})
	if out := p.out.String(); !strings.Contains(out, "restart_needed=[correlate]") {
		t.Errorf("the log does not name the correlate section as needing a restart:\n%s", out)
	}
}

// TestReloadTopology changes the topology file and reloads: two services
// the running graph does not connect get separate incidents; once the
// reloaded graph connects two others, their alerts share one, and the
// reason names the path. The incidents open before the reload stay, and
// a restart after it finds them all.
func TestReloadTopology(t *testing.T) {
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.json")
	nodes := `"nodes":[{"id":"web"},{"id":"mail"},{"id":"shop"},{"id":"pay"}]`
	writeFile(t, topo, `{`+nodes+`,"edges":[]}`)
	e := newEmbedded(t, filepath.Join(dir, "data"), "topology: "+topo+"\ncorrelate:\n  group_wait: 1s\n  time_scale: 2s\n")
	p := e.start(t)
	p.wantCleanExit = true
	eventually(t, p, "ready", e.ready)
	post := func(alertname, service string) {
		t.Helper()
		postOK(t, e.url("/api/v2/alerts"), []byte(`[{"labels":{"alertname":"`+alertname+`","service":"`+service+`"}}]`))
	}
	// incidentOf maps each alertname to its incident and the reason it
	// joined, once all of names are there.
	incidentOf := func(p *proc, names ...string) (map[string]string, map[string]string) {
		t.Helper()
		ids, why := map[string]string{}, map[string]string{}
		eventually(t, p, "the incidents of "+strings.Join(names, ", "), func() (bool, string) {
			incs, err := listIncidents(e.url(""), "open")
			if err != nil {
				return false, err.Error()
			}
			for _, inc := range incs {
				for _, a := range inc.Alerts {
					ids[a.Labels["alertname"]], why[a.Labels["alertname"]] = inc.ID, a.Reason
				}
			}
			for _, n := range names {
				if ids[n] == "" {
					return false, fmt.Sprintf("%v", ids)
				}
			}
			return true, ""
		})
		return ids, why
	}

	// Alerts 3 s apart, at a time scale of 2 s: time alone does not join
	// them, one hop of the graph does (as 45 s at the default 30 s).
	post("A", "web")
	time.Sleep(3 * time.Second)
	post("B", "mail")
	if ids, _ := incidentOf(p, "A", "B"); ids["A"] == ids["B"] {
		_, why := incidentOf(p, "B")
		t.Fatalf("web and mail, not connected, share incident %s: %q", ids["A"], why["B"])
	}

	writeFile(t, topo, `{`+nodes+`,"edges":[{"source":"shop","target":"pay","label":"calls"}]}`)
	code, body := reloadOver(t, e.url(""), "")
	if code != 200 || !strings.Contains(body, "topology (4 nodes)") {
		t.Fatalf("POST /-/reload: %d %s, want the topology applied", code, body)
	}
	post("C", "shop")
	time.Sleep(3 * time.Second)
	post("D", "pay")
	ids, why := incidentOf(p, "A", "B", "C", "D")
	if ids["C"] != ids["D"] || !strings.Contains(why["D"], "shop") {
		t.Fatalf("shop and pay, connected by the reloaded topology: incidents %s and %s, D's reason %q", ids["C"], ids["D"], why["D"])
	}
	if ids["A"] == ids["B"] || ids["A"] == ids["C"] || ids["B"] == ids["C"] {
		t.Fatalf("incidents after the reload: %v, want A, B and C+D apart", ids)
	}

	p.stop(t)
	p.wantCleanExit = false // checked by that stop
	p = e.start(t)
	eventually(t, p, "ready after a restart", e.ready)
	if again, _ := incidentOf(p, "A", "B", "C", "D"); !maps.Equal(again, ids) {
		t.Fatalf("after a restart the incidents are %v, before it %v", again, ids)
	}
}
