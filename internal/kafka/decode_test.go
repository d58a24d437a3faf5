package kafka

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quellhq/quell"
)

func TestDecode(t *testing.T) {
	good, err := json.Marshal(testAlert("checkout", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, value, err string
	}{
		{"alert", string(good), ""},
		{"empty", "", "not a JSON quell.Alert"},
		{"truncated", `{"source":"x","labels":{`, "not a JSON quell.Alert"},
		{"wrong shape", `["an", "array"]`, "not a JSON quell.Alert"},
		{"tombstone", `null`, "not a JSON quell.Alert"},
		{"no labels", `{"source":"datadog","status":"firing"}`, "invalid quell.Alert: alert has no labels"},
		{"bad status", `{"source":"datadog","status":"open","labels":{"a":"b"}}`, `invalid quell.Alert: alert status "open"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode[quell.Alert]([]byte(tc.value))
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("decode: %v, want no error", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("decode: %v, want an error saying %q", err, tc.err)
			}
		})
	}
	// Types without Validate are only decoded.
	if _, err := decode[quell.Decision]([]byte(`{"incident":"i-1"}`)); err != nil {
		t.Errorf("decode Decision: %v", err)
	}
}

func TestAlertRecordKeepsRawVerbatim(t *testing.T) {
	a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{"alertname": "A"},
		Raw: json.RawMessage(`{"labels": {"alertname": "A"},  "note": "spaced\n"}`)}
	b, err := appendRecord(nil, &a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode[quell.Alert](b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Raw) != string(a.Raw) || got.Labels["alertname"] != "A" {
		t.Fatalf("round trip: raw %q labels %v", got.Raw, got.Labels)
	}
	if _, err := decode[quell.Alert](append(b[:bytes.IndexByte(b, '\n')+1:bytes.IndexByte(b, '\n')+1], "{broken"...)); err == nil {
		t.Fatal("a record whose raw part is not JSON decoded")
	}
}
