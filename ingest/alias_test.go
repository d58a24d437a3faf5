package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestParsersKeepNothingOfTheBody: the handler reuses a request body's
// buffer once the request is answered, so what a parser returns (alerts,
// their raw payloads, its error) must not point into the body. Every real
// payload through every parser; the body is then overwritten and the
// result must read the same.
func TestParsersKeepNothingOfTheBody(t *testing.T) {
	files, err := filepath.Glob("testdata/webhooks/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in testdata/webhooks (%v)", err)
	}
	parsed := 0
	for _, file := range files {
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for route, parse := range parsers {
			body := bytes.Clone(payload)
			alerts, perr := parse(body, goldenNow)
			before, err := json.Marshal(goldenResult{Alerts: alerts, Error: errText(perr)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range body {
				body[i] = 'x'
			}
			after, err := json.Marshal(goldenResult{Alerts: alerts, Error: errText(perr)})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("%s through %s: the result changed when the body's buffer was overwritten: it points into the body", filepath.Base(file), route)
			}
			if perr == nil {
				parsed++
			}
		}
	}
	if parsed == 0 {
		t.Fatal("no payload parsed: nothing was checked")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
