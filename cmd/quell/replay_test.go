package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The same alerts and configuration replay to the same decision log, byte
// for byte: a replay is how a grouping is reproduced and compared.
func TestReplayIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "alerts.jsonl")
	var lines []string
	for i := range 50 {
		svc := fmt.Sprintf("svc%d", i%5)
		lines = append(lines, fmt.Sprintf(`[{"labels":{"alertname":"A%d","service":%q,"pod":"%s-7d9f8b6c5-x%d","namespace":"prod","job":"kube-state-metrics","severity":"warning"},`+
			`"annotations":{"summary":"%s is slow","runbook_url":"http://runbooks/%d"},"startsAt":"2026-01-01T00:%02d:%02dZ"}]`, i%7, svc, svc, i, svc, i, i/30, 2*(i%30)))
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs [][]byte
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("decisions%d.jsonl", i))
		if err := replayCmd([]string{"--decisions", out, in}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n != len(lines) {
			t.Fatalf("replay wrote %d decisions for %d alerts", n, len(lines))
		}
		logs = append(logs, b)
	}
	for i := 1; i < len(logs); i++ {
		if !bytes.Equal(logs[i], logs[0]) {
			t.Fatalf("replay %d wrote a different decision log than the first:\n%s\nfirst:\n%s", i+1, logs[i], logs[0])
		}
	}
}
