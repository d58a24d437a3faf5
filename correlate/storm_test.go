package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// k8sStorm is 50 alerts on five Kubernetes services at once, as
// Prometheus with kube-prometheus rules sends them: every alert carries
// namespace=prod, and the kube-state-metrics alerts share its job, service
// and instance (the exporter's, not the failing workload's). Alerts of the
// five services arrive interleaved over 20 seconds.
func k8sStorm() []quell.Alert {
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
				l["pod"], l["container"] = pod, svc
				if l["alertname"] == "KubeDeploymentReplicasMismatch" {
					delete(l, "pod")
					l["deployment"] = svc
				}
			}
			a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: l, Severity: quell.Critical,
				Annotations: map[string]string{"summary": l["alertname"] + " for " + svc},
				StartsAt:    t0.Add(time.Duration(i*2000+s*300) * time.Millisecond)}
			a.Fingerprint = fpr.Fingerprint(&a)
			out = append(out, a)
		}
	}
	return out
}

// The storm gives one incident per service: the values every alert shares
// (namespace, the exporter's job) link nothing on their own.
func TestKubernetesStormOneIncidentPerService(t *testing.T) {
	r := newRun(t, DefaultConfig(), nil)
	storm := k8sStorm()
	for i := range storm {
		r.eng.Process(&storm[i], storm[i].StartsAt)
	}
	r.eng.Flush()
	bySvc := map[string]map[string]bool{} // service -> incidents
	byInc := map[string]map[string]bool{} // incident -> services
	for _, d := range r.decisions {
		svc := d.Alert.Labels["container"]
		if svc == "" {
			svc = d.Alert.Labels["deployment"]
		}
		if svc == "" {
			svc = d.Alert.Labels["service"]
		}
		if bySvc[svc] == nil {
			bySvc[svc] = map[string]bool{}
		}
		if byInc[d.Incident] == nil {
			byInc[d.Incident] = map[string]bool{}
		}
		bySvc[svc][d.Incident] = true
		byInc[d.Incident][svc] = true
	}
	for svc, incs := range bySvc {
		if len(incs) != 1 {
			t.Errorf("%s spread over %d incidents", svc, len(incs))
		}
	}
	for inc, svcs := range byInc {
		if len(svcs) != 1 {
			t.Errorf("incident %s holds %d services: %v", inc, len(svcs), svcs)
		}
	}
	if len(byInc) != 5 || t.Failed() {
		t.Fatalf("%d incidents for 5 services; decisions:%s", len(byInc), reasons(r.decisions))
	}
	for _, inc := range r.eng.Incidents("") {
		svc := strings.SplitN(inc.Alerts[0].Labels["pod"]+inc.Alerts[0].Labels["deployment"], "-", 2)[0]
		if !strings.Contains(inc.Title, svc) {
			t.Errorf("incident %q is about %s", inc.Title, svc)
		}
	}
}
