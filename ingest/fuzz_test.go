package ingest

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/webhooks/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(webhookBody(3))
	for _, s := range []string{`"a\u00e9\ud83d\ude00\ud800x\\"`, `"\xff\xfe"`, `[1,-0.5e+3,true,false,null,{}]`, `{"a":01}`, `[[[[[]]]]]`} {
		f.Add([]byte(s))
	}
}

// FuzzScanner checks the scanner against encoding/json: it accepts exactly
// the valid documents, and decodes strings to the same text.
func FuzzScanner(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s := scanner{b: body}
		err := s.skip()
		if err == nil {
			err = s.end()
		}
		if valid := json.Valid(body); (err == nil) != valid {
			t.Fatalf("scanner error %v, json.Valid %v", err, valid)
		}
		if err != nil || s.depth != 0 {
			return
		}
		if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '"' {
			var want string
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			s = scanner{b: body}
			if got, err := s.str(); err != nil || got != want {
				t.Fatalf("str() = %q, %v; encoding/json gives %q", got, err, want)
			}
		}
	})
}

// FuzzParseAlertmanagerWebhook checks the parser against refWebhook, an
// encoding/json decoder of the same message: whatever the parser accepts,
// encoding/json accepts and decodes to the same alerts.
func FuzzParseAlertmanagerWebhook(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseAlertmanagerWebhook(body, now)
		if err != nil {
			return
		}
		want, werr := refWebhook(body, now)
		if werr != nil {
			t.Fatalf("parser accepted what encoding/json rejects (%v)", werr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d alerts, encoding/json %d", len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if !maps.Equal(g.Labels, w.Labels) || !maps.Equal(g.Annotations, w.Annotations) || g.Status != w.Status ||
				!g.StartsAt.Equal(w.StartsAt) || !g.EndsAt.Equal(w.EndsAt) || g.GeneratorURL != w.GeneratorURL ||
				g.SourceFingerprint != w.SourceFingerprint || g.Severity != w.Severity || !bytes.Equal(g.Raw, w.Raw) {
				t.Fatalf("alert %d differs:\n got %+v\nwant %+v", i, g, w)
			}
		}
	})
}

// The other parsers are fuzzed for robustness: no panic, and nothing
// accepted that is not JSON.
func FuzzParseOthers(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for route, parse := range parsers {
			if _, err := parse(body, now); err == nil && !json.Valid(body) {
				t.Fatalf("%s accepted invalid JSON", route)
			}
		}
	})
}
