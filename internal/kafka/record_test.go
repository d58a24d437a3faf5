package kafka

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// What the correlator reads of an alert record is what ingest wrote.
func FuzzAlertRecord(f *testing.F) {
	f.Add("alertname", "HighLatency", `{"labels": {"alertname": "HighLatency"}}`, int64(1700000000123456789))
	f.Add("k\x00", "\xff invalid\n", ``, int64(0))
	f.Fuzz(func(t *testing.T, k, v, raw string, ns int64) {
		at := time.Unix(0, ns).UTC()
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{k: v},
			StartsAt: at, ReceivedAt: at, Severity: quell.Warning, Fingerprint: quell.Fingerprint(ns)}
		if json.Valid([]byte(raw)) {
			a.Raw = json.RawMessage(raw)
		}
		want, err := json.Marshal(&a)
		if err != nil {
			t.Skip()
		}
		rec, err := appendRecord(nil, &a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode[quell.Alert](rec)
		if err != nil {
			if a.Validate() == nil {
				t.Fatalf("record of a valid alert does not decode: %v", err)
			}
			return
		}
		var w quell.Alert
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if string(got.Raw) != string(a.Raw) {
			t.Fatalf("raw payload %q read back as %q", a.Raw, got.Raw)
		}
		got.Raw, w.Raw = nil, nil
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("record read back as\n%+v\nwant\n%+v", got, w)
		}
	})
}

func BenchmarkEncodeAlert(b *testing.B) {
	a := testAlert("checkout", 1)
	a.Raw = json.RawMessage(`{"labels":{"alertname":"HighLatency"},"annotations":{"summary":"slow"}}`)
	b.Run("record", func(b *testing.B) {
		for b.Loop() {
			if _, err := appendRecord(nil, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(&a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
