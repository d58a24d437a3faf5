package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "quell.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"empty file keeps the defaults", "", "", func(t *testing.T, c Config) {
			if c.Listen != ":9095" || c.Correlate.GroupWait != Default().Correlate.GroupWait {
				t.Fatalf("defaults lost: %+v", c)
			}
		}},
		{"durations and nested fields", "correlate:\n  group_wait: 3s\n  flapping:\n    enter: 8\n", "", func(t *testing.T, c Config) {
			if c.Correlate.GroupWait != 3*time.Second || c.Correlate.Flapping.Enter != 8 || c.Correlate.Flapping.Leave != Default().Correlate.Flapping.Leave {
				t.Fatalf("got %+v", c.Correlate)
			}
		}},
		{"a misspelt field names its path", "correlate:\n  grup_wait: 3s\n", "correlate.grup_wait (line 2): no such setting", nil},
		{"a wrong type names its path and what it takes", "webhooks:\n  - name: a\n    url: http://x\n    max_elapsed: soon\n",
			"webhooks[0].max_elapsed (line 4): `soon` is not a duration", nil},
		{"a list where one is due", "correlate:\n  scope_labels: cluster\n", "correlate.scope_labels (line 2): `cluster` is not a list", nil},
		{"a size", "memory_limit: huge\n", "memory_limit (line 1): \"huge\" is not a size", nil},
		{"an invalid value names the field", "correlate:\n  join_score: 0\n", "correlate.join_score", nil},
		{"a webhook needs a url", "webhooks:\n  - name: chat\n", "url", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(write(t, tt.body))
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// Secrets come from the file, a *_file beside the setting, or the
// environment; a missing variable or file names the setting.
func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "routing-key")
	if err := os.WriteFile(key, []byte("R0UT1NGKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QUELL_TEST_SN_PASSWORD", "from-env")
	t.Setenv("QUELL_TEST_CH_PASSWORD", "ch-pass")
	c, err := Load(write(t, `clickhouse:
  dsn: clickhouse://quell:${QUELL_TEST_CH_PASSWORD}@clickhouse:9000/quell
itsm:
  servicenow:
    - name: prod
      url: https://example.service-now.com
      username: quell
      password: ${QUELL_TEST_SN_PASSWORD}
  pagerduty:
    - name: oncall
      routing_key_file: `+key+`
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.ITSM.ServiceNow[0].Password; got != "from-env" {
		t.Errorf("password %q", got)
	}
	if got := c.ITSM.PagerDuty[0].RoutingKey; got != "R0UT1NGKEY" {
		t.Errorf("routing key %q", got)
	}
	if got := c.ClickHouse.DSN; got != "clickhouse://quell:ch-pass@clickhouse:9000/quell" {
		t.Errorf("dsn %q", got)
	}
	_, err = Load(write(t, "webhooks:\n  - name: chat\n    url: https://chat.example.com\n    secret: ${QUELL_TEST_NOT_SET}\n"))
	if err == nil || !strings.Contains(err.Error(), "webhooks[0].secret") || !strings.Contains(err.Error(), "QUELL_TEST_NOT_SET") {
		t.Errorf("a missing variable: %v", err)
	}
}
