package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// Each parser has a fuzz target; CI runs each for a bounded time, one at a
// time (go test allows one -fuzz target per run):
//
//	for f in FuzzScanner FuzzParseAlertmanagerWebhook FuzzParseAlertsV2 FuzzParseDatadogWebhook FuzzParseSplunkWebhook; do
//		go test -run '^$' -fuzz "^$f\$" -fuzztime 30s ./ingest/ || exit 1
//	done
//
// A failure leaves its input in testdata/fuzz/<target>/: commit it, and it
// becomes a seed that plain go test runs.
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
	// Times JSON cannot hold: year 10000 by offset, and by milliseconds.
	f.Add([]byte(`[{"labels":{"a":"b"},"startsAt":"9999-12-31T23:00:00-23:00"}]`))
	f.Add([]byte(`{"alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"0000-01-01T00:00:00+01:00","endsAt":"0000-01-01T00:00:00+01:00"}]}`))
	f.Add([]byte(`{"title":"x","date":"9999999999999999"}`))
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
// encoding/json accepts and decodes to the same alerts. And see checkParser.
func FuzzParseAlertmanagerWebhook(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		got := checkParser(t, func(b []byte, now time.Time, lim limits) ([]quell.Alert, error) {
			return parseAlertmanagerWebhook(b, now, lim, nil)
		}, body)
		if got == nil {
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
		// Parsed again with its alerts remembered, each is recalled whole.
		recent := newRecentAlerts(1 << 30)
		for i := range got {
			got[i].Fingerprint = 1 // what the handler sets before it remembers
			a := got[i]
			recent.put(&a)
		}
		again, err := parseAlertmanagerWebhook(body, now, fuzzLimits, recent)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("recalled (%v):\n%+v\nparsed:\n%+v", err, again, got)
		}
	})
}

func FuzzParseAlertsV2(f *testing.F) {
	addSeeds(f)
	parse := func(b []byte, now time.Time, lim limits) ([]quell.Alert, error) {
		return parseAlertsV2(b, now, lim, 5*time.Minute)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkParser(t, parse, body) })
}

func FuzzParseDatadogWebhook(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`{"title":"x","tags":"a:1,b:2,c,d,e:5,f,g:7,h,i:9,a:0"}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkParser(t, parseDatadogWebhook, body) })
}

func FuzzParseSplunkWebhook(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkParser(t, func(b []byte, now time.Time, lim limits) ([]quell.Alert, error) {
			return parseSplunkWebhook(b, now, DefaultConfig().SplunkResolveTimeout, lim)
		}, body)
	})
}

// fuzzLimits are small, so that fuzzed bodies reach them.
var fuzzLimits = limits{alerts: 4, labels: 6, name: 16, value: 40}

// checkParser parses body with and without fuzzLimits. Nothing parsed
// points into the body. Limits may refuse a
// body but never change what is parsed from it; what is accepted is JSON,
// within the limits, and storable: it validates and survives a JSON round
// trip unchanged. It returns the alerts accepted within the limits.
func checkParser(t *testing.T, parse func([]byte, time.Time, limits) ([]quell.Alert, error), body []byte) []quell.Alert {
	if pointsInto(func(b []byte) ([]quell.Alert, error) { return parse(b, now, limits{}) }, body) {
		t.Fatalf("the result changed when the body's buffer was overwritten: it points into the body, which the handler reuses")
	}
	free, ferr := parse(body, now, limits{})
	got, err := parse(body, now, fuzzLimits)
	if pe, ok := errors.AsType[*ParseError](err); ok && pe.Limit != "" {
		return nil
	}
	if (err == nil) != (ferr == nil) || err != nil && err.Error() != ferr.Error() {
		t.Fatalf("limits changed the outcome: %v, without limits %v", err, ferr)
	}
	if err != nil {
		return nil
	}
	if !json.Valid(body) {
		t.Fatalf("accepted invalid JSON")
	}
	if len(got) != len(free) || len(got) > fuzzLimits.alerts {
		t.Fatalf("%d alerts, %d without limits, limit %d", len(got), len(free), fuzzLimits.alerts)
	}
	for i := range got {
		a := &got[i]
		if len(a.Labels) > fuzzLimits.labels {
			t.Fatalf("alert %d has %d labels, limit %d", i, len(a.Labels), fuzzLimits.labels)
		}
		for k, v := range a.Labels {
			if len(k) > fuzzLimits.name || len(v) > fuzzLimits.value {
				t.Fatalf("alert %d label %q=%q beyond the limits %+v", i, k, v, fuzzLimits)
			}
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("alert %d does not validate: %v", i, err)
		}
		if !sameAlert(*a, free[i]) {
			t.Fatalf("alert %d differs without limits:\n got %s\nfree %s", i, show(*a), show(free[i]))
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("alert %d does not marshal: %v", i, err)
		}
		var back quell.Alert
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("alert %d does not unmarshal from %s: %v", i, b, err)
		}
		if !sameAlert(*a, back) {
			t.Fatalf("alert %d changed in a JSON round trip:\n  %s\n->%s", i, show(*a), show(back))
		}
		// The journal's record, lean for Alertmanager's format, reads back whole.
		rec := AppendLeanRecord(nil, a)
		if read, err := ParseAlertRecord(rec); err != nil || !reflect.DeepEqual(read, *a) {
			t.Fatalf("alert %d changed in its journal record %q (%v):\n  %s\n->%s", i, rec, err, show(*a), show(read))
		}
		// A decision about it, as the correlator writes it to Kafka, reads back whole.
		d := quell.Decision{Alert: *a, Incident: "0360421948f7bcb0", Action: quell.ActionJoined, Reason: a.Labels["alertname"], At: a.StartsAt, Actor: a.Source}
		read, err := ParseDecisionRecord(d.AppendJSON(nil))
		if err != nil || !sameAlert(read.Alert, d.Alert) {
			t.Fatalf("alert %d changed in a decision record (%v):\n  %s\n->%s", i, err, show(d.Alert), show(read.Alert))
		}
		if read.Alert = d.Alert; !reflect.DeepEqual(read, d) {
			t.Fatalf("decision about alert %d changed in its record:\n  %+v\n->%+v", i, d, read)
		}
	}
	return got
}

// sameAlert compares as storage does: times by instant, Raw as JSON
// (json.Marshal compacts it and escapes <, > and &).
func sameAlert(a, b quell.Alert) bool {
	var ca, cb, ra, rb bytes.Buffer
	if json.Compact(&ca, a.Raw) != nil || json.Compact(&cb, b.Raw) != nil {
		return false
	}
	json.HTMLEscape(&ra, ca.Bytes())
	json.HTMLEscape(&rb, cb.Bytes())
	return a.Source == b.Source && a.Status == b.Status && maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) &&
		a.StartsAt.Equal(b.StartsAt) && a.EndsAt.Equal(b.EndsAt) && a.ReceivedAt.Equal(b.ReceivedAt) && a.Severity == b.Severity &&
		a.Fingerprint == b.Fingerprint && a.GeneratorURL == b.GeneratorURL && a.SourceFingerprint == b.SourceFingerprint &&
		bytes.Equal(ra.Bytes(), rb.Bytes())
}

// show prints an alert with its Raw as text.
func show(a quell.Alert) string {
	raw := string(a.Raw)
	a.Raw = nil
	return fmt.Sprintf("%+v raw %s", a, raw)
}
