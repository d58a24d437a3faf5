package config

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestBytes(t *testing.T) {
	for in, want := range map[string]Bytes{"1048576": 1 << 20, "512MiB": 512 << 20, "1GiB": 1 << 30, "1.5GiB": 3 << 29, "64KiB": 64 << 10, "500MB": 500e6, "0": 0} {
		var b Bytes
		if err := yaml.Unmarshal([]byte(in), &b); err != nil || b != want {
			t.Errorf("%q: %v (%v), want %v", in, b, err, want)
		}
	}
	for _, in := range []string{"lots", "-1MiB", "12 parsecs"} {
		var b Bytes
		if err := yaml.Unmarshal([]byte(in), &b); err == nil {
			t.Errorf("%q: accepted as %v", in, b)
		}
	}
	if s := Bytes(512 << 20).String(); s != "512MiB" {
		t.Errorf("String: %s", s)
	}
}
