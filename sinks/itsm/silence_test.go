package itsm

import (
	"testing"
	"time"
)

func TestSilences(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	staging := map[string]string{"env": "staging", "alertname": "DiskFull"}
	weekend := &Weekly{Days: []string{"sat"}, Start: "22:00", Duration: 4 * time.Hour, TimeZone: "Europe/Berlin"}
	for _, tc := range []struct {
		name   string
		s      SilenceConfig
		labels map[string]string
		at     time.Time
		want   bool
	}{
		{"matchers match", SilenceConfig{Matchers: `{env="staging", alertname=~"Disk.*"}`}, staging, t0, true},
		{"regexp is anchored", SilenceConfig{Matchers: `{alertname=~"Disk"}`}, staging, t0, false},
		{"one matcher fails", SilenceConfig{Matchers: `{env="staging", alertname!="DiskFull"}`}, staging, t0, false},
		{"missing label is empty", SilenceConfig{Matchers: `{team=""}`}, staging, t0, true},
		{"before window", SilenceConfig{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0.Add(-time.Second), false},
		{"in window", SilenceConfig{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0, true},
		{"window end is exclusive", SilenceConfig{Matchers: `env="staging"`, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, staging, t0.Add(time.Hour), false},
		{"weekly: saturday night", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 7, 23, 0, 0, 0, berlin), true},
		{"weekly: past midnight", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 8, 1, 59, 0, 0, berlin), true},
		{"weekly: window over", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 8, 2, 0, 0, 0, berlin), false},
		{"weekly: in local time, not UTC", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 7, 21, 30, 0, 0, time.UTC), true},
		{"weekly: other day", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 6, 6, 23, 0, 0, 0, berlin), false},
		// 2025-03-29 is the Saturday before the switch to summer time.
		{"weekly: across DST", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend}, staging, time.Date(2025, 3, 30, 1, 30, 0, 0, berlin), true},
		{"weekly within dates", SilenceConfig{Matchers: `env="staging"`, Weekly: weekend, EndsAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}, staging, time.Date(2025, 6, 7, 23, 0, 0, 0, berlin), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := compileSilences([]SilenceConfig{tc.s})
			if err != nil {
				t.Fatal(err)
			}
			if got := ss.silencedBy(tc.labels, tc.at) != ""; got != tc.want {
				t.Fatalf("silenced at %s: %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}
