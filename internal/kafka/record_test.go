package kafka

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// appendAlert must write what encoding/json writes, read back.
func FuzzAppendAlert(f *testing.F) {
	f.Add("alertname", "HighLatency", "summary", "p99 > 1s on \"checkout\"\n<b>&</b>", "http://prom:9090/graph?g0.expr=up%3D%3D0", int64(1700000000123456789))
	f.Add("k\x00\x1f", "\xff\xfe invalid", "\u2028\u2029", "tab\there", "", int64(0))
	f.Fuzz(func(t *testing.T, k, v, ak, av, url string, ns int64) {
		at := time.Unix(0, ns).UTC()
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{k: v, "x": v + k},
			Annotations: map[string]string{ak: av}, StartsAt: at, ReceivedAt: at.Add(time.Second), Severity: quell.Critical,
			Fingerprint: quell.Fingerprint(ns), GeneratorURL: url, SourceFingerprint: v}
		want, err := json.Marshal(&a)
		if err != nil {
			t.Skip() // times encoding/json refuses never reach here: ingest refuses them
		}
		got := appendAlert(nil, &a)
		if !json.Valid(got) {
			t.Fatalf("not JSON: %s", got)
		}
		var g, w quell.Alert
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("appendAlert read back as\n%+v\nencoding/json as\n%+v", g, w)
		}
	})
}

func BenchmarkEncodeAlert(b *testing.B) {
	a := testAlert("checkout", 1)
	a.Raw = json.RawMessage(`{"labels":{"alertname":"HighLatency"},"annotations":{"summary":"slow"}}`)
	b.Run("appendAlert", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeRecord(&a); err != nil {
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
