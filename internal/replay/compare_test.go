package replay

import (
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
)

// Two bursts 90 seconds apart on one service: one incident with a long
// time scale, two with the default; the comparison names the second
// burst's alerts as moved, with both reasons.
func TestCompareNamesWhatMoved(t *testing.T) {
	fp := dedupe.NewFingerprinter(nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var alerts []quell.Alert
	for i, name := range []string{"A", "B", "C", "D"} {
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{"alertname": name, "service": "web"},
			StartsAt: t0.Add(time.Duration(i/2)*3*time.Minute + time.Duration(i%2)*time.Second)}
		a.Fingerprint = fp.Fingerprint(&a)
		alerts = append(alerts, a)
	}
	run := func(cfg correlate.Config) []quell.Decision {
		var ds []quell.Decision
		eng, err := correlate.New(cfg, nil, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
		if err != nil {
			t.Fatal(err)
		}
		in := append([]quell.Alert(nil), alerts...)
		Run(in, nil, eng)
		return ds
	}
	long := correlate.DefaultConfig()
	long.TimeScale = 10 * time.Minute
	d := Compare(run(correlate.DefaultConfig()), run(long))
	if d.IncidentsA != 2 || d.IncidentsB != 1 || d.Alerts != 4 {
		t.Fatalf("incidents %d and %d over %d alerts, want 2 and 1 over 4", d.IncidentsA, d.IncidentsB, d.Alerts)
	}
	if len(d.Moved) != 2 || d.Moved[0].Alert.Labels["alertname"] != "C" || d.Moved[1].Alert.Labels["alertname"] != "D" {
		t.Fatalf("moved %+v, want C and D (the smaller incident merged into the other)", d.Moved)
	}
	var out strings.Builder
	if err := d.Print(&out, "default", "long"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default: 2 incidents", "long: 1 incidents", "2 of 4 alerts changed incident", `alertname="C"`, "score"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if same := Compare(run(long), run(long)); len(same.Moved) != 0 {
		t.Errorf("a config compared with itself moved %d alerts", len(same.Moved))
	}
}
