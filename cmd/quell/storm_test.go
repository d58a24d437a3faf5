package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/quality"
	"github.com/quellhq/quell/internal/testenv"
)

// amDefaultTiming routes to quell with Alertmanager's default timing: a
// group's first notification 30s after its first alert, later ones every
// five minutes. The storm is one group (one namespace): quell receives it
// in one notification, where the direct posts spread over 18 seconds.
const amDefaultTiming = `route:
  receiver: quell
  group_by: [namespace]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: quell
    webhook_configs:
      - url: %s
        send_resolved: true
`

// TestStormThroughAlertmanager sends one storm (50 alerts, five Kubernetes
// services, posted over 18 seconds) to two quell instances with the default
// config: straight to one, as Prometheus would, and through a real
// Alertmanager with its default timing to the other. Both must form the same
// incidents: one per service.
func TestStormThroughAlertmanager(t *testing.T) {
	amBin := testenv.Alertmanager(t)
	bin := buildQuell(t)
	direct := startQuellConfig(t, bin, "correlate: {}\n")
	viaAM := startQuellConfig(t, bin, "correlate: {}\n")
	am := startAlertmanagerConfig(t, amBin, fmt.Sprintf(amDefaultTiming, viaAM.url+ingest.PathAlertmanager))

	storm := quality.KubernetesStorm(time.Now())
	for wave := 0; wave < len(storm); wave += 5 { // five alerts, one per service, every two seconds
		var batch []amAlert
		now := time.Now().UTC().Truncate(time.Second) // fresh, as Prometheus sends an alert that just fired
		for _, a := range storm[wave : wave+5] {
			batch = append(batch, amAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: now})
		}
		am.post(t, batch)
		postAlerts(t, direct.url, batch)
		time.Sleep(2 * time.Second)
	}

	want := len(storm)
	partitions := map[string]string{}
	for name, q := range map[string]*quellProc{"posted directly": direct, "through Alertmanager": viaAM} {
		incs := q.waitIncidentsFor(t, 90*time.Second, fmt.Sprintf("all %d storm alerts in incidents (%s)", want, name),
			func(incs []quell.Incident) bool { return countAlerts(incs, "") == want })
		groups := map[string][]string{}
		var sets []string
		for _, inc := range incs {
			var keys []string
			for _, a := range inc.Alerts {
				groups[inc.ID] = append(groups[inc.ID], quality.StormService(a.Labels))
				keys = append(keys, a.Labels["alertname"]+"/"+quality.StormService(a.Labels))
			}
			sort.Strings(keys)
			sets = append(sets, strings.Join(keys, " "))
		}
		if err := quality.OnePerService(groups, 5); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		sort.Strings(sets)
		partitions[name] = strings.Join(sets, "\n")
		t.Logf("%s: %d incidents", name, len(incs))
	}
	if partitions["posted directly"] != partitions["through Alertmanager"] {
		t.Errorf("the incidents differ:\nposted directly:\n%s\nthrough Alertmanager:\n%s", partitions["posted directly"], partitions["through Alertmanager"])
	}
}

// postAlerts posts alerts to quell's Alertmanager v2 API, as Prometheus does.
func postAlerts(t *testing.T, base string, alerts []amAlert) {
	t.Helper()
	b, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	postOK(t, base+"/api/v2/alerts", b)
}
