package quality

import (
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
)

// The Kubernetes storm gives one incident per service with the default
// config: the values every alert shares (namespace, the exporter's job)
// link nothing on their own.
func TestKubernetesStormOneIncidentPerService(t *testing.T) {
	var ds []quell.Decision
	eng, err := correlate.New(correlate.DefaultConfig(), nil, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
	if err != nil {
		t.Fatal(err)
	}
	storm := KubernetesStorm(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
	fp := dedupe.NewFingerprinter(nil)
	for i := range storm {
		storm[i].Fingerprint = fp.Fingerprint(&storm[i])
		eng.Process(&storm[i], storm[i].StartsAt)
	}
	eng.Flush()
	groups := map[string][]string{}
	for _, d := range ds {
		groups[d.Incident] = append(groups[d.Incident], StormService(d.Alert.Labels))
	}
	if err := OnePerService(groups, 5); err != nil {
		var b strings.Builder
		for _, d := range ds {
			b.WriteString("\n  " + StormService(d.Alert.Labels) + " " + string(d.Action) + " " + d.Incident + ": " + d.Reason)
		}
		t.Fatalf("%v; decisions:%s", err, b.String())
	}
	for _, inc := range eng.Incidents(correlate.Query{}) {
		if svc := StormService(inc.Alerts[0].Labels); !strings.Contains(inc.Title, svc) {
			t.Errorf("incident %q is about %s", inc.Title, svc)
		}
	}
}
