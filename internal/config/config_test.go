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
		{"a misspelt field is an error", "correlate:\n  grup_wait: 3s\n", "grup_wait", nil},
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
