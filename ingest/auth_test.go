package ingest

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell/dedupe"
)

// writeTokens writes a token file in a temporary folder and returns its path.
func writeTokens(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTokens(t *testing.T) {
	empty := writeTokens(t, "empty", "# rotated out\n\n")
	if _, err := LoadTokens(empty); err == nil || !strings.Contains(err.Error(), "holds no token") {
		t.Errorf("a file without tokens: error %v, want one saying it holds no token", err)
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "token file") {
		t.Errorf("a missing file: error %v, want one naming the token file", err)
	}
	if tk, err := LoadTokens(); err != nil || tk.Enabled() {
		t.Errorf("no files: %v, enabled %v; want no tokens and no error", err, tk.Enabled())
	}
}

// TestWebhookAuth checks every way a sender can present the token, with two
// files and two tokens in one of them valid at once (rotation).
func TestWebhookAuth(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WebhookTokenFiles = []string{
		writeTokens(t, "old", "# old, retiring\n  old-token  \n\nnew-token\n"),
		writeTokens(t, "splunk", "splunk-token"),
	}
	body := fixture(t, "alertmanager_webhook_zulip_alert.json")
	for _, tc := range []struct {
		name   string
		auth   func(*http.Request)
		status int
	}{
		{"none", func(*http.Request) {}, 401},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer new-token") }, 200},
		{"bearer, other file", func(r *http.Request) { r.Header.Set("Authorization", "bearer splunk-token") }, 200},
		{"bearer, trimmed in the file", func(r *http.Request) { r.Header.Set("Authorization", "Bearer old-token") }, 200},
		{"bearer, wrong", func(r *http.Request) { r.Header.Set("Authorization", "Bearer new-tokeN") }, 401},
		{"bearer, a prefix", func(r *http.Request) { r.Header.Set("Authorization", "Bearer new-") }, 401},
		{"bearer, empty", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, 401},
		{"basic, any user", func(r *http.Request) { r.SetBasicAuth("alertmanager", "new-token") }, 200},
		{"basic, token as user", func(r *http.Request) { r.SetBasicAuth("new-token", "") }, 401},
		{"query", func(r *http.Request) { r.URL.RawQuery = "token=splunk-token" }, 200},
		{"query, wrong", func(r *http.Request) { r.URL.RawQuery = "token=nope" }, 401},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Token new-token") }, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			h, err := NewHandler(cfg, &fakeBus{}, dedupe.NewFingerprinter(nil), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), reg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", PathAlertmanager, bytes.NewReader(body))
			tc.auth(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (body %s)", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 401 {
				return
			}
			if got := rec.Header().Values("WWW-Authenticate"); len(got) == 0 || !strings.HasPrefix(got[0], "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
			if !strings.HasPrefix(rec.Body.String(), `{"error":"missing or wrong token`) {
				t.Errorf("body %s, want a JSON error", rec.Body)
			}
			if n := counter(t, h.m.rejected.WithLabelValues("alertmanager", reasonUnauthorized)); n != 1 {
				t.Errorf("rejected unauthorized = %v, want 1", n)
			}
			for _, secret := range []string{"new-tok", "splunk-token", "nope", "old-token"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log holds a token: %s", logs.String())
				}
			}
		})
	}
}

func TestRequireToken(t *testing.T) {
	tokens, err := LoadTokens(writeTokens(t, "api", "api-token\n"))
	if err != nil {
		t.Fatal(err)
	}
	var seen *http.Request
	set := NewTokenSet(tokens)
	h := RequireToken(set, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/incidents?token=wrong", nil))
	if rec.Code != 401 || seen != nil || rec.Header().Get("WWW-Authenticate") == "" || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("wrong token: status %d, served %v, headers %v, body %s; want 401 with a challenge and a JSON error", rec.Code, seen != nil, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/incidents?status=open&token=api-token", nil))
	if seen == nil {
		t.Fatalf("a valid token was refused: %d %s", rec.Code, rec.Body)
	}
	if seen.URL.RawQuery != "status=open" || strings.Contains(seen.RequestURI, "api-token") {
		t.Errorf("the handler saw query %q, URI %q; want the token removed", seen.URL.RawQuery, seen.RequestURI)
	}
	// Tokens replaced (a reload) are in force for the next request; with
	// none, every request passes.
	other, err := LoadTokens(writeTokens(t, "api2", "other-token\n"))
	if err != nil {
		t.Fatal(err)
	}
	set.Set(other)
	seen = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/incidents?token=api-token", nil))
	if rec.Code != 401 || seen != nil {
		t.Errorf("a replaced token still works: %d", rec.Code)
	}
	set.Set(Tokens{})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/incidents", nil))
	if seen == nil {
		t.Errorf("without tokens a request was refused: %d %s", rec.Code, rec.Body)
	}
}
