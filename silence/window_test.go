package silence

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

// Configured silences: matchers, a time range, a weekly window.
func TestConfiguredSilences(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	staging := map[string]string{"env": "staging", "alertname": "DiskFull"}
	weekend := &Weekly{Days: []string{"sat"}, Start: "22:00", Duration: 4 * time.Hour, TimeZone: "Europe/Berlin"}
	for _, tc := range []struct {
		name   string
		s      Config
		labels map[string]string
		at     time.Time
		want   bool
	}{
		{"matchers match", Config{Matchers: `{env="staging", alertname=~"Disk.*"}`}, staging, t0, true},
		{"regexp is anchored", Config{Matchers: `{alertname=~"Disk"}`}, staging, t0, false},
		{"one matcher fails", Config{Matchers: `{env="staging", alertname!="DiskFull"}`}, staging, t0, false},
		{"missing label is empty", Config{Matchers: `{team=""}`}, staging, t0, true},
		{"before window", Config{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0.Add(-time.Second), false},
		{"in window", Config{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0, true},
		{"window end is exclusive", Config{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0.Add(time.Hour), false},
		{"weekly: saturday night", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 7, 23, 0, 0, 0, berlin), true},
		{"weekly: past midnight", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 8, 1, 59, 0, 0, berlin), true},
		{"weekly: window over", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 8, 2, 0, 0, 0, berlin), false},
		{"weekly: in local time, not UTC", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 7, 21, 30, 0, 0, time.UTC), true},
		{"weekly: other day", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 6, 23, 0, 0, 0, berlin), false},
		// 2025-03-29 is the Saturday before the switch to summer time.
		{"weekly: across DST", Config{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 3, 30, 1, 30, 0, 0, berlin), true},
		{"weekly within dates", Config{Matchers: `env="staging"`, Weekly: weekend, EndsAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}, staging, time.Date(2025, 6, 7, 23, 0, 0, 0, berlin), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewStore([]Config{tc.s}, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := len(st.SilencedBy(tc.labels, tc.at)) > 0; got != tc.want {
				t.Fatalf("silenced at %s: %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}
