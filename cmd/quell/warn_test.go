package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnsWhenOpen: quell, like Alertmanager, answers anyone by default;
// listening beyond loopback without tokens says so at start, naming the
// settings that close it. On loopback, or with tokens, it says nothing.
func TestWarnsWhenOpen(t *testing.T) {
	bin := buildQuell(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, tokens, "s3cret\n")
	for _, tc := range []struct {
		name, listen string
		args         []string
		want         []string
	}{
		{"open on every interface", "0.0.0.0:0", nil, []string{"ingest.webhook_token_files", "api_token_files"}},
		{"the API closed", "0.0.0.0:0", []string{"--api-token-file", tokens}, []string{"ingest.webhook_token_files"}},
		{"loopback", "127.0.0.1:0", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", tc.listen, "--data-dir", t.TempDir()}, tc.args...)
			p := start(t, "quell", bin, args...)
			eventually(t, p, "quell to listen", func() (bool, string) {
				return listenRE.MatchString(p.out.String()), "no \"quell serving\" line yet"
			})
			p.stop(t)
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
			out := p.out.String()
			warnings := strings.Count(out, "level=WARN")
			for _, setting := range tc.want {
				if !strings.Contains(out, setting) {
					t.Errorf("no warning naming %s:\n%s", setting, out)
				}
			}
			if warnings != len(tc.want) {
				t.Errorf("%d warnings, want %d:\n%s", warnings, len(tc.want), out)
			}
		})
	}
}
