package kafka

import (
	"bytes"
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
		got := appendAlert(nil, &a, false)
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
		// What the correlator reads back of the record is what was written.
		rec, err := encodeRecord(&a)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decode[quell.Alert](rec)
		if err != nil {
			if a.Validate() == nil {
				t.Fatalf("record of a valid alert does not decode: %v", err)
			}
		} else if !reflect.DeepEqual(back, w) {
			t.Fatalf("record read back as\n%+v\nwant\n%+v", back, w)
		}
		// A decision record, raw payload and all.
		a.Raw = json.RawMessage(`{"labels": {"k": "v"}}`)
		d := quell.Decision{Alert: a, Incident: v, Action: quell.ActionJoined, Reason: av, At: at}
		want, err = json.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		var gd, wd quell.Decision
		if err := json.Unmarshal(appendDecision(nil, &d), &gd); err != nil {
			t.Fatalf("decision record: %v", err)
		}
		if err := json.Unmarshal(want, &wd); err != nil {
			t.Fatal(err)
		}
		// The raw payload goes in verbatim; encoding/json compacts it.
		gd.Alert.Raw, wd.Alert.Raw = compact(t, gd.Alert.Raw), compact(t, wd.Alert.Raw)
		if !reflect.DeepEqual(gd, wd) {
			t.Fatalf("appendDecision read back as\n%+v\nencoding/json as\n%+v", gd, wd)
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

func compact(t *testing.T, raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("raw payload %q: %v", raw, err)
	}
	return b.Bytes()
}
