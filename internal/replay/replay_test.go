package replay

import (
	"strings"
	"testing"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
)

const webhook = `{"version":"4","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","groupKey":"{}","truncatedAlerts":0,"alerts":[` +
	`{"status":"firing","labels":{"alertname":"A","service":"web"},"annotations":{},"startsAt":"2026-01-01T00:00:10Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"x"}]}`

const v2 = `[{"labels":{"alertname":"B","service":"web"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:05:00Z"}]`

func TestReadNamesTheBadLine(t *testing.T) {
	_, _, err := Read(strings.NewReader(webhook+"\n\n{not json\n"), dedupe.NewFingerprinter(nil))
	if err == nil || !strings.HasPrefix(err.Error(), "3: ") {
		t.Fatalf("error %v, want one starting with the line number 3", err)
	}
}

func TestRunOrdersByEventTime(t *testing.T) {
	alerts, _, err := Read(strings.NewReader(webhook+"\n"+v2+"\n"), dedupe.NewFingerprinter(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 || alerts[0].Fingerprint == 0 {
		t.Fatalf("read %+v", alerts)
	}
	var ds []quell.Decision
	eng, err := correlate.New(correlate.DefaultConfig(), nil, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
	if err != nil {
		t.Fatal(err)
	}
	Run(alerts, nil, eng)
	// B starts 10 s before A although it comes later in the input: it opens
	// the incident and A joins it.
	if len(ds) != 2 || ds[0].Alert.Labels["alertname"] != "B" || ds[0].Action != quell.ActionCreated ||
		ds[1].Action != quell.ActionJoined || ds[1].Incident != ds[0].Incident {
		t.Fatalf("decisions %+v", ds)
	}
	// A v2 alert's endsAt is its expiry: it stays firing in replay.
	if ds[0].Alert.Status != quell.Firing {
		t.Fatalf("v2 alert with a future endsAt replayed as %s", ds[0].Alert.Status)
	}
}

// TestRunAppliesFeedback: a feedback line applies at its time, between the
// alerts around it, as the journal would apply it; one that does not fit
// the incidents is returned, not applied.
func TestRunAppliesFeedback(t *testing.T) {
	const storm = `[{"labels":{"alertname":"HighLatency","service":"web"},"startsAt":"2026-01-01T00:00:00Z"},` +
		`{"labels":{"alertname":"DiskFull","service":"db"},"startsAt":"2026-01-01T00:00:01Z"}]`
	fp := dedupe.NewFingerprinter(nil)
	run := func(input string) ([]quell.Decision, []error) {
		t.Helper()
		alerts, feedback, err := Read(strings.NewReader(input), fp)
		if err != nil {
			t.Fatal(err)
		}
		var ds []quell.Decision
		eng, err := correlate.New(correlate.DefaultConfig(), nil, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
		if err != nil {
			t.Fatal(err)
		}
		return ds, Run(alerts, feedback, eng)
	}
	first, _ := run(storm + "\n")
	web, db := first[0].Incident, first[1].Incident
	if len(first) != 2 || web == db {
		t.Fatalf("without feedback: %+v", first)
	}
	merge := `{"feedback":{"action":"merge","incident":"` + db + `","into":"` + web + `","actor":"alice","at":"2026-01-01T00:02:00Z"}}`
	bad := `{"feedback":{"action":"acknowledge","incident":"nosuch","actor":"bob","at":"2026-01-01T00:03:00Z"}}`
	ds, refused := run(storm + "\n" + merge + "\n" + bad + "\n")
	var merged []quell.Decision
	for _, d := range ds {
		if d.Action == quell.ActionMerged {
			merged = append(merged, d)
		}
	}
	if len(merged) != 1 || merged[0].Actor != "alice" || merged[0].Incident != web || merged[0].Alert.Labels["alertname"] != "DiskFull" {
		t.Fatalf("merged decisions %+v", merged)
	}
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), "nosuch") {
		t.Fatalf("refused %v, want bob's acknowledgement of an unknown incident", refused)
	}
	if _, _, err := Read(strings.NewReader(`{"feedback":{"action":"merge","actor":"x"}}`+"\n"), fp); err == nil || !strings.HasPrefix(err.Error(), "1: ") {
		t.Fatalf("an incomplete feedback line: %v", err)
	}
}
