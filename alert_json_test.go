package quell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// AppendJSON must write what encoding/json writes, read back.
func FuzzAppendJSON(f *testing.F) {
	f.Add("alertname", "HighLatency", "summary", "p99 > 1s on \"checkout\"\n<b>&</b>", "http://prom:9090/graph?g0.expr=up%3D%3D0", int64(1700000000123456789))
	f.Add("k\x00\x1f", "\xff\xfe invalid", "\u2028\u2029", "tab\there", "", int64(0))
	f.Fuzz(func(t *testing.T, k, v, ak, av, url string, ns int64) {
		at := time.Unix(0, ns).UTC()
		a := Alert{Source: "alertmanager", Status: Firing, Labels: map[string]string{k: v, "x": v + k},
			Annotations: map[string]string{ak: av}, StartsAt: at, ReceivedAt: at.Add(time.Second), Severity: Critical,
			Fingerprint: Fingerprint(ns), GeneratorURL: url, SourceFingerprint: v}
		want, err := json.Marshal(&a)
		if err != nil {
			t.Skip() // times encoding/json refuses never get here: ingest refuses them
		}
		if got, want := a.AppendJSON(nil, false), encodingJSON(t, &a); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON wrote\n%s\nencoding/json\n%s", got, want)
		}
		var g, w Alert
		readBoth(t, a.AppendJSON(nil, false), want, &g, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("AppendJSON read back as\n%+v\nencoding/json as\n%+v", g, w)
		}
		// A decision, raw payload and all.
		a.Raw = json.RawMessage(`{"labels": {"k": "v"}}`)
		d := Decision{Alert: a, Incident: v, Action: ActionJoined, Reason: av, At: at, Actor: k, Via: url}
		if want, err = json.Marshal(&d); err != nil {
			t.Fatal(err)
		}
		var gd, wd Decision
		readBoth(t, d.AppendJSON(nil), want, &gd, &wd)
		// The raw payload goes in verbatim; encoding/json compacts it.
		gd.Alert.Raw, wd.Alert.Raw = compact(t, gd.Alert.Raw), compact(t, wd.Alert.Raw)
		if !reflect.DeepEqual(gd, wd) {
			t.Fatalf("Decision.AppendJSON read back as\n%+v\nencoding/json as\n%+v", gd, wd)
		}
		// A member alert as an incident holds it.
		m := IncidentAlert{Fingerprint: a.Fingerprint, Source: a.Source, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: at, EndsAt: at.Add(time.Minute), Count: int(ns % 1000), LastSeen: at, Flapping: ns%2 == 0, Reason: av}
		if want, err = json.Marshal(&m); err != nil {
			t.Fatal(err)
		}
		if got, want := m.AppendJSON(nil), encodingJSON(t, &m); !bytes.Equal(got, want) {
			t.Fatalf("IncidentAlert.AppendJSON wrote\n%s\nencoding/json\n%s", got, want)
		}
		var gm, wm IncidentAlert
		readBoth(t, m.AppendJSON(nil), want, &gm, &wm)
		if !reflect.DeepEqual(gm, wm) {
			t.Fatalf("IncidentAlert.AppendJSON read back as\n%+v\nencoding/json as\n%+v", gm, wm)
		}
	})
}

// appendString tests eight bytes at a time: each character that needs
// escaping, at every offset of a word, must still be escaped as
// encoding/json escapes it.
func TestAppendStringEveryOffset(t *testing.T) {
	for _, special := range []string{"\"", "\\", "\x00", "\x1f", "\b", "\f", "\n", "\xff", "é", "\u2028", "\x7f"} {
		for at := range 17 {
			s := strings.Repeat("a", at) + special + strings.Repeat("b", 16-at)
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			if got := appendString(nil, s); string(got) != strings.TrimSuffix(want.String(), "\n") {
				t.Errorf("%q: wrote %s, encoding/json %s", s, got, want.Bytes())
			}
		}
	}
}

// The same alert is written as the same bytes, its labels in order as
// encoding/json writes them, so that a replay's decision log is identical
// every time; map iteration order is random, so one write would often pass.
func TestAppendJSONWritesLabelsInOrder(t *testing.T) {
	a := Alert{Source: "alertmanager", Status: Firing, Labels: map[string]string{}, Annotations: map[string]string{}}
	for i := range 12 {
		a.Labels[fmt.Sprintf("label%02d", (i*7)%12)] = "v"
		a.Annotations[fmt.Sprintf("note%d", i%3)] = "w"
	}
	want := encodingJSON(t, &a)
	for range 20 {
		if got := a.AppendJSON(nil, false); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON wrote\n%s\nencoding/json\n%s", got, want)
		}
	}
}

// encodingJSON is what encoding/json writes for v, HTML left as it is
// (quell's JSON is not for embedding in HTML).
func encodingJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func readBoth(t *testing.T, got, want []byte, g, w any) {
	t.Helper()
	if err := json.Unmarshal(got, g); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if err := json.Unmarshal(want, w); err != nil {
		t.Fatal(err)
	}
}

func compact(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("raw payload %q: %v", raw, err)
	}
	return b.Bytes()
}
