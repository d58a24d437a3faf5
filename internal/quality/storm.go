package quality

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/quellhq/quell/correlate"
)

// Family is a kind of system the storm generator builds. Each draws its
// size, call graph, alert mix and timing from ranges, so that no constant
// of quell's can be fitted to one shape.
type Family struct {
	Name string
	// Services: how many, at least and at most.
	MinServices, MaxServices int
	// Shape builds the call graph over n services (callees of each).
	Shape func(r *rand.Rand, n int) [][]int
	// Topology: whether quell is given the service graph as a file;
	// without one it must learn what relates from the alerts.
	Topology bool
	// Styles: the senders whose label shapes the alerts take.
	Styles []style
	// Noise: the mean time between unrelated problems (background alerts)
	// in ms, at least and at most.
	MinNoise, MaxNoise int64
	// Detections: anomaly alerts come from a detector that reports each
	// series it finds off once, at no fixed interval, rather than from
	// rules evaluated every interval (see gen.detect).
	Detections bool
}

// Families are the generated systems bench/quality scores defaults on.
var Families = []Family{
	{"k8s-layered", 10, 40, layered, true, []style{prometheus, trace, splunk}, calm, calm, false},
	{"k8s-large", 150, 500, layered, false, []style{prometheus, trace, datadog}, calm, calm, false},
	{"deep-chain", 8, 20, chain, true, []style{prometheus, trace}, calm, calm, false},
	{"wide-fanout", 30, 120, fanout, false, []style{datadog, trace, splunk}, calm, calm, false},
	{"host-centric", 15, 60, mesh, false, []style{datadog, splunk}, calm, calm, false},
	{"instances", 6, 30, layered, true, []style{anomaly, trace}, calm, calm, false},
	// detectors: the same systems, their metric alerts an anomaly
	// detector's, each reported once, as in the fault-alert data sets.
	{"detectors", 6, 30, layered, true, []style{anomaly, trace}, calm, calm, true},
	// noisy: a busy estate, where an unrelated problem starts every 30 s
	// to 5 minutes on average, during the faults too.
	{"noisy", 20, 150, layered, false, []style{prometheus, datadog, trace}, 30_000, 300_000, false},
}

// calm: an unrelated problem every ten minutes on average.
const calm = 600_000

// style is how a sender labels an alert about one entity.
type style int

const (
	prometheus style = iota // service, pod, namespace, job, instance, node
	datadog                 // host, service, monitor_id, env
	splunk                  // host (a pod or a node), source, sourcetype
	trace                   // service and peer_service of a failing call
	// anomaly: the fault-alert data sets' shape (faultalerts.py): one
	// alertname for every metric, about a numbered service instance, with
	// the host's address as instance; a host's own metrics with the
	// address as service; calls between instances; log error bursts. The
	// graph names hosts, which the alerts know only by address.
	anomaly
)

// system is one generated deployment.
type system struct {
	services []service
	nodes    []string
	addrs    []string // each node's address as alerts name it
	calls    [][]int  // callees of each service
	callers  [][]int
	ns       string
	interval int64 // metric rule evaluation interval, ms
	styles   []style
}

type service struct {
	name     string
	pods     []pod
	store    bool // a datastore: called, calls nothing
	monitors []string
}

type pod struct {
	name, ip string
	node     int
}

// Storm generates a labelled stream for one family: faults one after
// another (overlay 1) or overlay at once, with background and flapping
// alerts, from seed.
func Storm(f Family, overlay int, seed uint64) Set {
	r := rand.New(rand.NewPCG(seed, uint64(overlay)*7919+uint64(len(f.Name))))
	sys := build(f, r)
	g := &gen{r: r, sys: sys, noise: float64(f.MinNoise), detections: f.Detections}
	if f.MaxNoise > f.MinNoise {
		g.noise = math.Exp(math.Log(float64(f.MinNoise)) + r.Float64()*math.Log(float64(f.MaxNoise)/float64(f.MinNoise)))
	}
	start := int64(1_780_000_000_000)
	t := start
	faults := 30
	if overlay > 1 {
		faults = 12 * overlay
	}
	// Quiet time between problems: short in busy systems, long in calm ones.
	meanGap := math.Exp(r.Float64()*math.Log(15) + math.Log(2*60_000))
	for i := 0; i < faults; {
		k := min(overlay, faults-i)
		roots := r.Perm(len(sys.services) + len(sys.nodes))[:k]
		end := t
		for j, root := range roots {
			at := t
			if j > 0 {
				at += int64(10_000 + r.IntN(50_000)) // concurrent faults start 10-60 s apart
			}
			end = max(end, g.fault(fmt.Sprintf("f%d", i), root, at))
			i++
		}
		gap := int64(60_000 + r.ExpFloat64()*meanGap)
		if overlay > 1 {
			gap = int64(30*60_000 + r.IntN(30*60_000))
		}
		g.background(t, end+gap)
		t = end + gap
	}
	g.flapping(start, t)
	sortEvents(g.evs)
	s := Set{Data: "synthetic", Family: f.Name, Overlay: overlay, Events: g.evs}
	if f.Topology {
		s.Topology = sys.topology()
	}
	return s
}

func build(f Family, r *rand.Rand) *system {
	n := f.MinServices + r.IntN(f.MaxServices-f.MinServices+1)
	sys := &system{ns: "prod", styles: f.Styles, interval: []int64{15_000, 30_000, 60_000, 120_000}[r.IntN(4)]}
	sys.calls = f.Shape(r, n)
	sys.callers = make([][]int, n)
	for a, cs := range sys.calls {
		for _, b := range cs {
			sys.callers[b] = append(sys.callers[b], a)
		}
	}
	nodes := max(2, n/4)
	instances := slices.Contains(f.Styles, anomaly)
	for i := range nodes {
		name, addr := fmt.Sprintf("ip-10-%d-%d-%d", r.IntN(4), r.IntN(250), 10+i), ""
		if instances {
			name, addr = fmt.Sprintf("host%d", i+1), fmt.Sprintf("10.0.%d.%d", r.IntN(4), 2+i)
		}
		sys.nodes, sys.addrs = append(sys.nodes, name), append(sys.addrs, addr)
	}
	for i := range n {
		s := service{name: serviceName(r, i), store: len(sys.calls[i]) == 0 && len(sys.callers[i]) > 0 && r.IntN(2) == 0}
		rs := randName(r, "bcdfghjklmnpqrstvwxz2456789", 9+r.IntN(2))
		for k := range 1 + r.IntN(3) {
			name := s.name + "-" + rs + "-" + randName(r, "bcdfghjklmnpqrstvwxz2456789", 5)
			if instances {
				name = fmt.Sprintf("%s%d", s.name, k+1)
			}
			s.pods = append(s.pods, pod{name: name, ip: fmt.Sprintf("10.%d.%d.%d", 100+r.IntN(100), r.IntN(250), 2+r.IntN(250)), node: r.IntN(nodes)})
		}
		for m := range 2 + r.IntN(3) {
			s.monitors = append(s.monitors, fmt.Sprint(1_000_000+i*10+m))
		}
		sys.services = append(sys.services, s)
	}
	return sys
}

var words = []string{"cart", "checkout", "payment", "shipping", "email", "currency", "catalog", "search", "ads",
	"recommend", "auth", "user", "order", "invoice", "ledger", "inventory", "pricing", "review", "media", "notify",
	"session", "profile", "billing", "tax", "fraud", "gateway", "frontend", "api", "report", "export"}

func serviceName(r *rand.Rand, i int) string {
	if i < len(words) {
		return words[i]
	}
	return fmt.Sprintf("%s-%s", words[r.IntN(len(words))], randName(r, "abcdefghijklmnopqrstuvwxyz", 4))
}

func randName(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// layered: frontends call mid tiers, which call back ends and datastores.
func layered(r *rand.Rand, n int) [][]int {
	layers := 3 + r.IntN(2)
	calls := make([][]int, n)
	for i := range n {
		l := i * layers / n
		if l == layers-1 {
			continue
		}
		lo, hi := (l+1)*n/layers, min(n, (l+2)*n/layers+n/layers)
		for range 1 + r.IntN(3) {
			calls[i] = appendNew(calls[i], lo+r.IntN(hi-lo))
		}
	}
	return calls
}

// chain: a few long call chains that share their last links.
func chain(r *rand.Rand, n int) [][]int {
	calls := make([][]int, n)
	for i := 0; i+1 < n; i++ {
		calls[i] = []int{i + 1}
		if i+3 < n && r.IntN(4) == 0 {
			calls[i] = append(calls[i], i+2+r.IntN(n-i-2))
		}
	}
	return calls
}

// fanout: a gateway calls every service; each calls one of a few datastores.
func fanout(r *rand.Rand, n int) [][]int {
	calls := make([][]int, n)
	stores := 2 + r.IntN(3)
	for i := 1; i < n-stores; i++ {
		calls[0] = append(calls[0], i)
		calls[i] = []int{n - 1 - r.IntN(stores)}
	}
	return calls
}

// mesh: calls between random services, a few of them hubs.
func mesh(r *rand.Rand, n int) [][]int {
	calls := make([][]int, n)
	for i := range n {
		for range r.IntN(3) {
			j := r.IntN(n)
			if r.IntN(3) == 0 {
				j = r.IntN(max(1, n/8))
			}
			if j != i {
				calls[i] = appendNew(calls[i], j)
			}
		}
	}
	return calls
}

func appendNew(s []int, v int) []int {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// topology is the system as quell's topology file describes it: services,
// their pods, the nodes these run on, and the calls.
func (sys *system) topology() *correlate.Topology {
	type node struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	type edge struct {
		Source string `json:"source"`
		Target string `json:"target"`
		Label  string `json:"label"`
	}
	var f struct {
		Nodes []node `json:"nodes"`
		Edges []edge `json:"edges"`
	}
	for _, n := range sys.nodes {
		f.Nodes = append(f.Nodes, node{n, "Host"})
	}
	for i, s := range sys.services {
		f.Nodes = append(f.Nodes, node{s.name, "Service"})
		for _, p := range s.pods {
			f.Nodes = append(f.Nodes, node{p.name, "Pod"})
			f.Edges = append(f.Edges, edge{p.name, s.name, "instance_of"}, edge{p.name, sys.nodes[p.node], "hosted_on"})
		}
		for _, c := range sys.calls[i] {
			f.Edges = append(f.Edges, edge{s.name, sys.services[c].name, "calls"})
		}
	}
	b, _ := json.Marshal(f)
	t, err := correlate.ParseTopology(bytes.NewReader(b))
	if err != nil {
		panic(err) // built above: cannot be malformed
	}
	return t
}

type gen struct {
	r     *rand.Rand
	sys   *system
	evs   []Event
	n     int
	noise float64 // mean ms between unrelated problems
	// detections: anomaly alerts are reported once each (Family.Detections)
	detections bool
}

func (g *gen) emit(at int64, cluster string, labels map[string]string, summary string) {
	g.n++
	g.evs = append(g.evs, Event{At: at, Fault: cluster, ID: fmt.Sprintf("%s:%d", cluster, g.n), Labels: labels, Summary: summary})
}

// fault starts a problem at root (a service, or a node past the services)
// at t: it spreads to the callers of what fails, hop by hop with delays,
// and every affected entity alerts while affected. It returns when its last
// alert fired.
func (g *gen) fault(id string, root int, t int64) int64 {
	r, sys := g.r, g.sys
	dur := int64(2*60_000 + r.IntN(13*60_000))
	type hit struct {
		svc   int
		from  int64
		depth int
	}
	var hits []hit
	seen := map[int]bool{}
	if root >= len(sys.services) { // a node fails: the services with pods on it
		node := root - len(sys.services)
		g.nodeAlerts(id, node, t, t+dur)
		for i, s := range sys.services {
			for _, p := range s.pods {
				if p.node == node && !seen[i] {
					seen[i] = true
					hits = append(hits, hit{i, t + int64(r.IntN(30_000)), 1})
				}
			}
		}
	} else {
		seen[root] = true
		hits = append(hits, hit{root, t, 0})
	}
	reach := 1 + r.IntN(3)
	for q := 0; q < len(hits); q++ {
		h := hits[q]
		if h.depth >= reach {
			continue
		}
		for _, c := range sys.callers[h.svc] {
			if !seen[c] && r.Float64() < 0.75 {
				seen[c] = true
				hits = append(hits, hit{c, h.from + int64(5_000+r.IntN(60_000)), h.depth + 1})
			}
		}
	}
	last := t
	for _, h := range hits {
		end := t + dur - int64(r.IntN(int(dur/3)))
		last = max(last, g.serviceAlerts(id, h.svc, h.from, end))
		for _, c := range sys.calls[h.svc] {
			if seen[c] {
				last = max(last, g.traceAlerts(id, h.svc, c, h.from, end))
			}
		}
	}
	if len(hits) > 0 && hits[0].depth == 0 {
		for _, c := range sys.callers[hits[0].svc] {
			if seen[c] {
				last = max(last, g.traceAlerts(id, c, hits[0].svc, t, t+dur))
			}
		}
	}
	return last
}

// ticks are the metric rule evaluations in [from, to): alerts of one
// evaluation carry the same second, as Prometheus sends them.
func (g *gen) ticks(from, to int64, fn func(at int64)) int64 {
	iv := g.sys.interval
	last := from
	for at := (from/iv + 1) * iv; at < to; at += iv {
		if g.r.IntN(10) > 0 { // a missed evaluation now and then
			fn(at)
			last = at
		}
	}
	return last
}

var (
	promRules = []string{"HighErrorRate", "HighLatencyP99", "KubePodCrashLooping", "CPUThrottlingHigh", "KubeContainerOOMKilled", "ErrorBudgetBurn"}
	metrics   = []string{"docker_cpu_total_pct", "docker_cpu_user_pct", "docker_memory_usage_pct", "docker_memory_rss_total",
		"docker_network_in_bytes", "docker_network_out_errors", "docker_diskio_read_rate", "docker_cpu_core_ticks",
		"redis_keyspace_hits", "http_server_latency_p99", "jvm_gc_pause_ms", "process_open_fds"}
	logLines = []string{"an error occurred in the downstream service", "connection refused by upstream",
		"request timed out after 3000 ms", "failed to read from cache, falling back"}
	ddTitles  = []string{"Latency is high on {svc}", "Error rate above threshold for {svc}", "{svc} apdex degraded", "Hits dropped on {svc}"}
	logSearch = []string{"Errors in {svc} logs", "Exceptions spike {svc}", "Timeouts logged by {svc}"}
)

func (g *gen) serviceAlerts(id string, si int, from, to int64) int64 {
	r, sys := g.r, g.sys
	s := sys.services[si]
	last := from
	for _, st := range sys.styles {
		if st == trace || r.IntN(4) == 0 {
			continue
		}
		p := s.pods[r.IntN(len(s.pods))]
		for k := range 1 + r.IntN(3) {
			var l map[string]string
			var summary string
			switch st {
			case prometheus:
				rule := promRules[r.IntN(len(promRules))]
				l = map[string]string{"alertname": rule, "namespace": sys.ns, "severity": []string{"warning", "critical"}[r.IntN(2)]}
				if strings.HasPrefix(rule, "Kube") { // from kube-state-metrics: its own job, instance and service
					l["job"], l["service"], l["instance"] = "kube-state-metrics", "kube-state-metrics", "10.96.0.12:8080"
					l["pod"], l["container"] = p.name, s.name
				} else {
					l["job"], l["service"], l["pod"], l["instance"] = s.name, s.name, p.name, p.ip+":8080"
				}
				summary = fmt.Sprintf("%s on %s", rule, s.name)
			case datadog:
				title := strings.ReplaceAll(ddTitles[(k+si)%len(ddTitles)], "{svc}", s.name)
				l = map[string]string{"alertname": title, "monitor_id": s.monitors[k%len(s.monitors)], "host": sys.nodes[p.node],
					"service": s.name, "env": "prod", "scope": "env:prod,service:" + s.name}
				summary = title
			case splunk:
				name := strings.ReplaceAll(logSearch[(k+si)%len(logSearch)], "{svc}", s.name)
				l = map[string]string{"alertname": name, "host": p.name, "source": "/var/log/containers/" + p.name + ".log", "sourcetype": "kube:container:" + s.name}
				summary = name
			case anomaly:
				if k == 0 && r.IntN(3) == 0 { // now and then a log error burst, once
					line := logLines[r.IntN(len(logLines))]
					g.emit(from+int64(r.IntN(60_000)), id, map[string]string{"alertname": "LogErrorBurst", "service": p.name, "severity": "warning"}, line)
				}
				if g.detections {
					last = max(last, g.detect(id, p, from, to))
					continue
				}
				l, summary = g.anomaly(p, metrics[r.IntN(len(metrics))], []string{"up", "down"}[r.IntN(2)])
			}
			last = max(last, g.ticks(from+int64(r.IntN(20_000)), to, func(at int64) { g.emit(at, id, l, summary) }))
		}
	}
	return last
}

// detect is what an anomaly detector reports of instance p from
// from to to: each series it finds off, once, at no fixed interval (one an
// evaluation interval on average, on whole seconds). Alerts that never
// repeat teach no report interval: only how sparse the system's alerts
// come tells a quiet spell within a problem from its end.
func (g *gen) detect(id string, p pod, from, to int64) int64 {
	r, sys := g.r, g.sys
	last := from
	for at := from + int64(r.ExpFloat64()*float64(sys.interval)); at < to; at += int64(r.ExpFloat64() * float64(sys.interval)) {
		// Of hundreds of series (per core, device, endpoint), seldom one twice.
		metric := fmt.Sprintf("%s_%d", metrics[r.IntN(len(metrics))], r.IntN(40))
		l, summary := g.anomaly(p, metric, []string{"up", "down"}[r.IntN(2)])
		at -= at % 1000
		g.emit(at, id, l, summary)
		last = max(last, at)
	}
	return last
}

// anomaly is the alert an anomaly on metric of instance p raises, as the
// fault-alert data sets' converter shapes it, and its summary.
func (g *gen) anomaly(p pod, metric, dir string) (map[string]string, string) {
	return map[string]string{"alertname": "MetricAnomaly", "service": p.name, "metric": metric, "direction": dir,
		"instance": g.sys.addrs[p.node], "severity": "warning"}, metric + " went " + dir + " on " + p.name
}

func (g *gen) traceAlerts(id string, caller, callee int, from, to int64) int64 {
	if !slices.Contains(g.sys.styles, trace) {
		return from
	}
	a, b := g.sys.services[caller].name, g.sys.services[callee].name
	op := "/" + b + "/" + []string{"get", "list", "update"}[g.r.IntN(3)]
	l := map[string]string{"alertname": "TraceLatencyAnomaly", "service": a, "peer_service": b, "operation": op, "severity": "warning"}
	summary := "latency of " + a + " -> " + b + " " + op
	if slices.Contains(g.sys.styles, anomaly) { // between instances, the callee by address
		pa := g.sys.services[caller].pods[g.r.IntN(len(g.sys.services[caller].pods))]
		pb := g.sys.services[callee].pods[g.r.IntN(len(g.sys.services[callee].pods))]
		op = fmt.Sprintf("http://%s:%d/%s_%s", g.sys.addrs[pb.node], 9380+callee%20, []string{"get", "set", "query"}[g.r.IntN(3)], b)
		kind := []string{"PD", "PD", "500"}[g.r.IntN(3)]
		l = map[string]string{"alertname": "TraceAnomaly", "service": pa.name, "peer_service": pb.name, "operation": op, "kind": kind, "severity": "warning"}
		summary = kind + " on calls " + pa.name + " -> " + pb.name + " " + op
	}
	last := from
	for at := from + int64(g.r.IntN(30_000)); at < to; at += int64(20_000 + g.r.IntN(70_000)) {
		g.emit(at, id, l, summary)
		last = at
	}
	return last
}

func (g *gen) nodeAlerts(id string, node int, from, to int64) {
	name := g.sys.nodes[node]
	for _, rule := range []string{"NodeHighCPU", "NodeMemoryPressure", "NodeNetworkErrors"}[:1+g.r.IntN(3)] {
		var l map[string]string
		switch {
		case slices.Contains(g.sys.styles, anomaly): // the host by address, unknown to the graph
			metric := "system_" + strings.ToLower(strings.TrimPrefix(rule, "Node"))
			l = map[string]string{"alertname": "MetricAnomaly", "service": g.sys.addrs[node], "metric": metric, "direction": "up", "instance": "system", "severity": "warning"}
		case slices.Contains(g.sys.styles, prometheus):
			l = map[string]string{"alertname": rule, "instance": name + ":9100", "node": name, "job": "node-exporter", "severity": "critical"}
		default:
			l = map[string]string{"alertname": "System " + rule + " on {host}", "host": name, "monitor_id": fmt.Sprint(9_000_000 + node), "scope": "host:" + name}
		}
		g.ticks(from, to, func(at int64) { g.emit(at, id, l, rule+" on "+name) })
	}
}

// background adds unrelated alerts between from and to: each a short
// problem of its own (its own truth cluster).
func (g *gen) background(from, to int64) {
	r := g.r
	for at := from + int64(r.ExpFloat64()*g.noise); at < to; at += int64(r.ExpFloat64() * g.noise) {
		g.n++
		id := fmt.Sprintf("bg%d", g.n)
		si := r.IntN(len(g.sys.services))
		g.serviceAlerts(id, si, at, at+int64(30_000+r.IntN(120_000)))
	}
}

// flapping adds a few alerts that fire and resolve again and again over a
// long time: each one problem of its own.
func (g *gen) flapping(from, to int64) {
	r := g.r
	for range 1 + r.IntN(3) {
		g.n++
		id := fmt.Sprintf("flap%d", g.n)
		s := g.sys.services[r.IntN(len(g.sys.services))]
		l := map[string]string{"alertname": "ProbeFailing", "service": s.name, "namespace": g.sys.ns, "job": "blackbox", "severity": "warning"}
		start := from + int64(r.IntN(int(max(1, (to-from)/2))))
		for at := start; at < min(to, start+40*60_000); at += int64(6*60_000 + r.IntN(4*60_000)) {
			g.emit(at, id, l, "probe of "+s.name+" failing")
		}
	}
}
