package quality

import (
	"fmt"
	"time"

	"github.com/quellhq/quell"
)

// KubernetesStorm is 50 alerts on five Kubernetes services failing at
// once, as Prometheus with the kube-prometheus rules sends them: every alert
// carries namespace=prod, and the kube-state-metrics alerts share that
// exporter's job, service and instance. The services' alerts interleave,
// two seconds apart, from start on. Fingerprints are left to the caller.
func KubernetesStorm(start time.Time) []quell.Alert {
	services := []string{"cart", "checkout", "payment", "shipping", "email"}
	rs := []string{"7d9f8b6c5", "5c8d7f9b4", "6b7c9d8f2", "9f8b7c6d5", "4d5f6b7c8"}
	app := []string{"HighErrorRate", "HighLatencyP99", "ErrorBudgetBurn", "CPUThrottlingHigh", "MemoryHigh"}
	ksm := []string{"KubePodCrashLooping", "KubePodNotReady", "KubeContainerWaiting", "KubeDeploymentReplicasMismatch", "KubeHpaMaxedOut"}
	var out []quell.Alert
	for i := range 10 {
		for s, svc := range services {
			pod := fmt.Sprintf("%s-%s-%s", svc, rs[s], []string{"x2k4p", "b7wq9", "m4n8z"}[i%3])
			l := map[string]string{"namespace": "prod", "severity": "critical"}
			if i%2 == 0 {
				l["alertname"] = app[i/2]
				l["service"], l["job"], l["pod"], l["instance"] = svc, svc, pod, fmt.Sprintf("10.1.%d.%d:8080", s, 10+i)
			} else {
				l["alertname"] = ksm[i/2]
				l["job"], l["service"], l["instance"] = "kube-state-metrics", "kube-prometheus-stack-kube-state-metrics", "10.96.0.12:8080"
				l["container"] = svc
				if l["alertname"] == "KubeDeploymentReplicasMismatch" {
					l["deployment"] = svc
				} else {
					l["pod"] = pod
				}
			}
			out = append(out, quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: l, Severity: quell.Critical,
				Annotations: map[string]string{"summary": l["alertname"] + " for " + svc},
				StartsAt:    start.Add(time.Duration(i) * 2 * time.Second)})
		}
	}
	return out
}

// StormService names the service a KubernetesStorm alert is about.
func StormService(labels map[string]string) string {
	if c := labels["container"]; c != "" {
		return c
	}
	return labels["service"]
}

// OnePerService checks that groups (incident -> the service of each of its
// alerts) are one incident per service, services of them.
func OnePerService(groups map[string][]string, services int) error {
	seen := map[string]string{}
	for inc, svcs := range groups {
		for _, s := range svcs {
			if s != svcs[0] {
				return fmt.Errorf("incident %s holds %s and %s", inc, svcs[0], s)
			}
		}
		if other, ok := seen[svcs[0]]; ok {
			return fmt.Errorf("%s spread over incidents %s and %s", svcs[0], other, inc)
		}
		seen[svcs[0]] = inc
	}
	if len(groups) != services {
		return fmt.Errorf("%d incidents for %d services", len(groups), services)
	}
	return nil
}
