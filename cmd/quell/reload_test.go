package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
