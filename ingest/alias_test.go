package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/quellhq/quell"
)

// TestParsersKeepNothingOfTheBody: the handler reuses a request body's
// buffer once the request is answered, so what a parser returns (alerts,
// their raw payloads, its error) must not point into the body. Every real
// payload through every parser here; the fuzz targets check the same of
// arbitrary bodies (see checkParser).
func TestParsersKeepNothingOfTheBody(t *testing.T) {
	files, err := filepath.Glob("testdata/webhooks/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in testdata/webhooks (%v)", err)
	}
	for _, file := range files {
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for route, parse := range parsers {
			if pointsInto(func(b []byte) ([]quell.Alert, error) { return parse(b, goldenNow) }, payload) {
				t.Errorf("%s through %s: the result changed when the body's buffer was overwritten: it points into the body", filepath.Base(file), route)
			}
		}
	}
}

// pointsInto parses a copy of body, overwrites the copy, and reports
// whether what the parser returned changed with it.
func pointsInto(parse func([]byte) ([]quell.Alert, error), body []byte) bool {
	own := bytes.Clone(body)
	alerts, err := parse(own)
	show := func() []byte {
		res := struct {
			Alerts []quell.Alert
			Error  string
		}{Alerts: alerts}
		if err != nil {
			res.Error = err.Error()
		}
		b, merr := json.Marshal(res)
		if merr != nil { // a raw payload overwritten is no longer JSON
			return []byte(merr.Error())
		}
		return b
	}
	before := show()
	for i := range own {
		own[i] = 'x'
	}
	return !bytes.Equal(before, show())
}
