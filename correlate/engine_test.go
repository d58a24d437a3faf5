package correlate

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/dedupe"
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// occ is one alert occurrence in a scenario.
type occ struct {
	at     time.Duration // after t0
	labels string        // "k=v,k=v"
	status quell.Status  // firing when empty
}

type run struct {
	t         *testing.T
	eng       *Engine
	decisions []quell.Decision
	changes   []quell.IncidentChange
}

func newRun(t *testing.T, cfg Config, topo *Topology) *run {
	t.Helper()
	r := &run{t: t}
	eng, err := New(cfg, topo, Output{
		Decision: func(d quell.Decision) { r.decisions = append(r.decisions, d) },
		Change:   func(c quell.IncidentChange) { r.changes = append(r.changes, c) },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.eng = eng
	return r
}

var fpr = dedupe.NewFingerprinter(nil)

func alert(o occ) quell.Alert {
	a := quell.Alert{Source: "alertmanager", Status: o.status, Labels: map[string]string{}, StartsAt: t0, Severity: quell.Warning}
	if a.Status == "" {
		a.Status = quell.Firing
	}
	for _, kv := range strings.Split(o.labels, ",") {
		k, v, _ := strings.Cut(kv, "=")
		a.Labels[k] = v
	}
	a.Fingerprint = fpr.Fingerprint(&a)
	return a
}

// feed processes occurrences in order, then lets time run to the last one
// plus after, and returns the decisions made for them, in input order.
func (r *run) feed(after time.Duration, occs ...occ) []quell.Decision {
	r.t.Helper()
	start := len(r.decisions)
	var last time.Duration
	for _, o := range occs {
		a := alert(o)
		r.eng.Process(&a, t0.Add(o.at))
		last = o.at
	}
	r.eng.Advance(t0.Add(last + after))
	return r.decisions[start:]
}

// byAlertname maps alertname to the incident its (last) decision named.
func byAlertname(ds []quell.Decision) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Alert.Labels["alertname"]] = d.Incident
	}
	return m
}

func fastConfig() Config {
	c := DefaultConfig()
	c.GroupWait = 5 * time.Second
	c.ResolveHold = time.Minute
	c.ReopenWindow = 10 * time.Minute
	return c
}

func TestGrouping(t *testing.T) {
	topo, err := ParseTopology(strings.NewReader(`{"nodes":[{"id":"web"},{"id":"api"},{"id":"db"},{"id":"host1"},{"id":"mail"},{"id":"dns"}],
		"edges":[{"source":"web","target":"api"},{"source":"api","target":"db"},{"source":"db","target":"host1"},{"source":"host1","target":"disk"},{"source":"mail","target":"dns"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		occs []occ
		same [][]string // alertnames that must share an incident, per group; groups must differ
	}{
		{"shared service label joins", []occ{
			{0, "alertname=A,service=checkout", ""},
			{2 * time.Second, "alertname=B,service=checkout", ""},
		}, [][]string{{"A", "B"}}},
		{"unrelated concurrent problems stay apart", []occ{
			{0, "alertname=A,service=checkout", ""},
			{time.Second, "alertname=B,service=billing", ""},
		}, [][]string{{"A"}, {"B"}}},
		{"port-stripped value links instance and host", []occ{
			{0, "alertname=A,instance=db-1:9100", ""},
			{time.Second, "alertname=B,host=db-1", ""},
		}, [][]string{{"A", "B"}}},
		{"topology within hops joins", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Second, "alertname=B,service=db", ""}, // web-api-db: 2 hops
		}, [][]string{{"A", "B"}}},
		{"three hops apart at once: related, joins", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Second, "alertname=B,service=host1", ""}, // 3 hops
		}, [][]string{{"A", "B"}}},
		{"graph distance is graded: 45s later one hop joins", []occ{
			{0, "alertname=A,service=web", ""},
			{45 * time.Second, "alertname=B,service=api", ""},
		}, [][]string{{"A", "B"}}},
		{"graph distance is graded: 45s later four hops do not", []occ{
			{0, "alertname=A,service=web", ""},
			{45 * time.Second, "alertname=B,service=disk", ""}, // web-api-db-host1-disk
		}, [][]string{{"A"}, {"B"}}},
		{"a machine alert at once joins whatever it is", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Second, "alertname=B,instance=10.0.0.7:9100", ""},
		}, [][]string{{"A", "B"}}},
		{"workloads failing with a machine are one problem", []occ{
			{0, "alertname=A,node=node9", ""},
			{time.Second, "alertname=B,service=checkout", ""},
			{time.Second, "alertname=C,service=billing", ""},
		}, [][]string{{"A", "B", "C"}}},
		{"a machine alert merges the young incidents of workloads failing at once", []occ{
			{0, "alertname=A,service=checkout", ""},
			{0, "alertname=B,service=billing", ""},
			{time.Second, "alertname=C,node=node9", ""},
		}, [][]string{{"A", "B", "C"}}},
		{"a young incident linked to an older active one merges into it", []occ{
			{0, "alertname=A,service=checkout", ""},
			{40 * time.Second, "alertname=B,service=billing", ""}, // too late to join A on time alone
			{41 * time.Second, "alertname=C,service=billing,peer_service=checkout", ""},
		}, [][]string{{"A", "B", "C"}}},
		{"a related alert at the next evaluation of slow rules joins", []occ{
			{0, "alertname=A,service=web", ""},
			{2 * time.Minute, "alertname=A,service=web", ""}, // its rule reports every 2m
			{2 * time.Minute, "alertname=B,service=api", ""}, // one hop
		}, [][]string{{"A", "B"}}},
		{"two hops away at the next evaluation of slow rules: the silence counts, apart", []occ{
			{0, "alertname=A,service=web", ""},
			{2 * time.Minute, "alertname=A,service=web", ""},
			{2 * time.Minute, "alertname=B,service=db", ""}, // web-api-db: weak, as any path in a big incident
		}, [][]string{{"A"}, {"B"}}},
		{"an unrelated alert at the next evaluation of slow rules stays apart", []occ{
			{0, "alertname=A,service=web", ""},
			{2 * time.Minute, "alertname=A,service=web", ""},
			{2 * time.Minute, "alertname=B,service=mail", ""},
		}, [][]string{{"A"}, {"B"}}},
		{"an alert early in a batch goes where it would go last in it", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Minute, "alertname=A,service=web", ""},
			{time.Minute, "alertname=C,service=mail", ""}, // the incident looks a minute old
			{time.Minute, "alertname=B,service=api", ""},  // one hop: joins, the incident is active now
		}, [][]string{{"A", "B", "C"}}},
		{"the same batch in another order", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Minute, "alertname=A,service=web", ""},
			{time.Minute, "alertname=B,service=api", ""},
			{time.Minute, "alertname=C,service=mail", ""},
		}, [][]string{{"A", "B", "C"}}},
		{"an alert firing again after a resolve is no sign of slow rules", []occ{
			{0, "alertname=A,service=web", ""},
			{0, "alertname=B,service=web", ""},
			{30 * time.Second, "alertname=A,service=web", quell.Resolved},
			{90 * time.Second, "alertname=A,service=web", ""}, // away for a minute, not silent between evaluations
			{170 * time.Second, "alertname=C,service=api", ""},
		}, [][]string{{"A", "B"}, {"C"}}},
		{"disconnected topology stays apart", []occ{
			{0, "alertname=A,service=web", ""},
			{time.Second, "alertname=B,service=mail", ""},
		}, [][]string{{"A"}, {"B"}}},
		{"different scope never meets", []occ{
			{0, "alertname=A,service=checkout,cluster=eu", ""},
			{time.Second, "alertname=B,service=checkout,cluster=us", ""},
		}, [][]string{{"A"}, {"B"}}},
		{"two young incidents linked by a third alert merge", []occ{
			{0, "alertname=A,service=checkout", ""},
			{time.Second, "alertname=B,host=node7", ""},
			{2 * time.Second, "alertname=C,service=checkout,host=node7", ""},
		}, [][]string{{"A", "B", "C"}}},
		{"a related alert 45s later joins", []occ{
			{0, "alertname=A,service=checkout", ""},
			{45 * time.Second, "alertname=B,service=checkout", ""},
		}, [][]string{{"A", "B"}}},
		{"after the window of inactivity a related alert opens a new incident", []occ{
			{0, "alertname=A,service=checkout", ""},
			{10 * time.Minute, "alertname=B,service=checkout", ""},
		}, [][]string{{"A"}, {"B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, fastConfig(), topo)
			ds := r.feed(time.Minute, tt.occs...)
			if len(ds) != len(tt.occs) {
				t.Fatalf("%d decisions for %d occurrences", len(ds), len(tt.occs))
			}
			got := byAlertname(ds)
			seen := map[string]bool{}
			for _, group := range tt.same {
				id := got[group[0]]
				if id == "" {
					t.Fatalf("%s has no incident: %+v", group[0], ds)
				}
				for _, name := range group[1:] {
					if got[name] != id {
						t.Errorf("%s in %s, want %s with %s; decisions: %s", name, got[name], id, group[0], reasons(ds))
					}
				}
				if seen[id] {
					t.Errorf("group %v shares incident %s with another group; decisions: %s", group, id, reasons(ds))
				}
				seen[id] = true
			}
			for _, d := range ds {
				if d.Reason == "" {
					t.Errorf("decision without a reason: %+v", d)
				}
			}
		})
	}
}

// TestSlowRulesReason: when an incident's reporting interval weighed in
// the time evidence, the reason says so.
func TestSlowRulesReason(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	ds := r.feed(time.Minute,
		occ{0, "alertname=A,service=web", ""},
		occ{2 * time.Minute, "alertname=A,service=web", ""},
		occ{2 * time.Minute, "alertname=B,service=web", ""},
	)
	if d := ds[2]; d.Action != quell.ActionJoined || !strings.Contains(d.Reason, "2m0s after the incident's last alert (its alerts report every 2m0s)") {
		t.Fatalf("decisions: %s", reasons(ds))
	}
}

// TestFullIncidentReason: an alert that a capped incident would have taken
// opens a new one, and its reason names the cap.
func TestFullIncidentReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"max_alerts", func(c *Config) { c.MaxAlerts = 2 }, "is full: it holds correlate.max_alerts (2) alerts"},
		{"max_age", func(c *Config) { c.MaxAge = 15 * time.Second }, "is full: it is older than correlate.max_age (15s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fastConfig()
			tc.cfg(&cfg)
			r := newRun(t, cfg, nil)
			ds := r.feed(time.Minute,
				occ{0, "alertname=A,service=web", ""},
				occ{10 * time.Second, "alertname=B,service=web", ""},
				occ{20 * time.Second, "alertname=C,service=web", ""},
			)
			if ds[1].Incident != ds[0].Incident {
				t.Fatalf("B opened its own incident: %s", reasons(ds))
			}
			c := ds[2]
			if c.Action != quell.ActionCreated || !strings.Contains(c.Reason, "incident "+ds[0].Incident+" "+tc.want) {
				t.Fatalf("C: want a new incident naming %s as full (%q); decisions: %s", ds[0].Incident, tc.want, reasons(ds))
			}
		})
	}
}

func reasons(ds []quell.Decision) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\n  " + d.Alert.Labels["alertname"] + " " + string(d.Action) + " " + d.Incident + ": " + d.Reason)
	}
	return b.String()
}

func TestRepeatsDeduplicate(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	ds := r.feed(time.Minute,
		occ{0, "alertname=A,service=x", ""},
		occ{time.Second, "alertname=A,service=x", ""},
		occ{5 * time.Minute, "alertname=A,service=x", ""}, // still firing: a repeat, however late
	)
	if ds[0].Action != quell.ActionCreated || ds[1].Action != quell.ActionDeduplicated || ds[2].Action != quell.ActionDeduplicated {
		t.Fatalf("actions: %s", reasons(ds))
	}
	if ds[1].Incident != ds[0].Incident || ds[2].Incident != ds[0].Incident {
		t.Fatalf("repeats left the incident: %s", reasons(ds))
	}
	if ds[2].Reason != "repeat of a firing alert (occurrence 3)" {
		t.Fatalf("the second repeat's reason %q, want it to count the occurrences", ds[2].Reason)
	}
	for _, n := range []int{1023, 1024, 123456} { // the made reasons end at 1024
		if got, want := repeatReason(n), "repeat of a firing alert (occurrence "+strconv.Itoa(n)+")"; got != want {
			t.Fatalf("reason of occurrence %d: %q, want %q", n, got, want)
		}
	}
	incs := r.eng.Incidents(Query{})
	if len(incs) != 1 || incs[0].Alerts[0].Count != 3 {
		t.Fatalf("want one incident with one alert seen 3 times, got %+v", incs)
	}
}

func TestLifecycle(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	a := "alertname=A,service=x"
	r.feed(cfg.GroupWait, occ{0, a, ""}, occ{time.Second, "alertname=B,service=x", ""})
	first := r.decisions[0].Incident
	r.feed(cfg.GroupWait, occ{2 * time.Minute, a, quell.Resolved})
	if s := r.eng.Incidents(Query{})[0].Status; s != quell.IncidentOpen {
		t.Fatalf("incident %s with B still firing, want open", s)
	}
	if inc := r.eng.Incidents(Query{})[0]; inc.Resolving {
		t.Fatalf("resolving with B firing: %+v", inc)
	}
	r.feed(0, occ{3 * time.Minute, "alertname=B,service=x", quell.Resolved})
	r.eng.Advance(t0.Add(3*time.Minute + cfg.ResolveHold - time.Second))
	if inc := r.eng.Incidents(Query{})[0]; inc.Status != quell.IncidentOpen || !inc.Resolving || !inc.ClosesAt.Equal(t0.Add(3*time.Minute+cfg.ResolveHold)) {
		t.Fatalf("during the resolve hold: %s, resolving %v, closes %s; want open, resolving, closing at %s",
			inc.Status, inc.Resolving, inc.ClosesAt, t0.Add(3*time.Minute+cfg.ResolveHold))
	}
	r.eng.Advance(t0.Add(3*time.Minute + cfg.ResolveHold))
	inc := r.eng.Incidents(Query{})[0]
	if inc.Status != quell.IncidentResolved || inc.ResolvedAt.IsZero() || inc.Resolving {
		t.Fatalf("incident %+v after the hold, want resolved", inc)
	}
	// A lone member firing within the reopen window reopens the same incident.
	re := r.feed(2*cfg.GroupWait, occ{4*time.Minute + 30*time.Second, a, ""})
	if len(re) != 1 || re[0].Incident != first || !strings.Contains(re[0].Reason, "reopened") {
		t.Fatalf("refire within the reopen window: %s", reasons(re))
	}
	// Its time evidence counts from the resolve (its last alert fired 4m29s before).
	if !strings.Contains(re[0].Reason, "the same alert was part of it, 30s after the incident resolved") {
		t.Fatalf("reopening reason %q, want the time since the incident resolved named so", re[0].Reason)
	}
	if s := r.eng.Incidents(Query{})[0].Status; s != quell.IncidentOpen {
		t.Fatalf("reopened incident is %s", s)
	}
	kinds := map[quell.ChangeKind]int{}
	for _, c := range r.changes {
		kinds[c.Kind]++
	}
	if kinds[quell.IncidentCreated] != 1 || kinds[quell.IncidentResolve] != 1 || kinds[quell.IncidentReopened] != 1 {
		t.Fatalf("changes %v, want one created, resolved and reopened", kinds)
	}
	// Resolved again, then firing after the reopen window: a new incident.
	r.feed(0, occ{5 * time.Minute, a, quell.Resolved})
	r.eng.Advance(t0.Add(5*time.Minute + cfg.ResolveHold))
	late := r.feed(2*cfg.GroupWait, occ{5*time.Minute + cfg.ResolveHold + cfg.ReopenWindow + time.Second, a, ""})
	if len(late) != 1 || late[0].Incident == first || late[0].Action != quell.ActionCreated {
		t.Fatalf("resolve, then refire after the reopen window: %s", reasons(late))
	}
}

func TestFlappingDoesNotReopenOverAndOver(t *testing.T) {
	cfg := fastConfig()
	cfg.ReopenWindow = 0
	cfg.Flapping = dedupe.FlapConfig{Window: 30 * time.Minute, Enter: 3, Leave: 1}
	r := newRun(t, cfg, nil)
	a := "alertname=A,service=x"
	var occs []occ
	for i := 0; i < 10; i++ { // fires and resolves every 3 minutes, beyond the resolve hold
		st := quell.Firing
		if i%2 == 1 {
			st = quell.Resolved
		}
		occs = append(occs, occ{time.Duration(i) * 3 * time.Minute, a, st})
	}
	ds := r.feed(time.Minute, occs...)
	incidents := map[string]bool{}
	for _, d := range ds {
		if d.Incident != "" {
			incidents[d.Incident] = true
		}
	}
	// Before flapping is detected (3 changes) the alert may open two incidents;
	// after, its resolves are held so the incident stays open.
	if len(incidents) > 2 {
		t.Fatalf("flapping alert spread over %d incidents: %s", len(incidents), reasons(ds))
	}
	var suppressed int
	for _, d := range ds {
		if d.Action == quell.ActionSuppressed && strings.Contains(d.Reason, "flapping") {
			suppressed++
		}
	}
	if suppressed == 0 {
		t.Fatalf("no resolve was held as flapping: %s", reasons(ds))
	}
	open := r.eng.Incidents(Query{Status: quell.IncidentOpen})
	if len(open) != 1 || !open[0].Alerts[0].Flapping {
		t.Fatalf("want the flapping alert's incident open and marked flapping, got %+v", open)
	}
	// Quiet past the flap window: flapping ends, the held resolve applies.
	r.eng.Advance(t0.Add(27*time.Minute + cfg.Flapping.Window + cfg.ResolveHold + time.Second))
	if open := r.eng.Incidents(Query{Status: quell.IncidentOpen}); len(open) != 0 {
		t.Fatalf("after flapping calmed down, %d incidents still open: %+v", len(open), open)
	}
}

func TestExpiryResolvesUnrefreshedAlerts(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	a := alert(occ{labels: "alertname=A,service=x"})
	a.EndsAt = t0.Add(5 * time.Minute) // Prometheus' endsAt, Splunk's resolve timeout
	r.eng.Process(&a, t0)
	r.eng.Advance(t0.Add(5*time.Minute + cfg.ResolveHold))
	inc := r.eng.Incidents(Query{})[0]
	if inc.Status != quell.IncidentResolved || inc.Alerts[0].Status != quell.Resolved {
		t.Fatalf("alert past its endsAt: %+v", inc)
	}
}

func TestMaxAlertsCapsAnIncident(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAlerts = 2
	r := newRun(t, cfg, nil)
	ds := r.feed(time.Minute,
		occ{0, "alertname=A,service=x", ""},
		occ{time.Second, "alertname=B,service=x", ""},
		occ{2 * time.Second, "alertname=C,service=x", ""})
	if ds[2].Incident == ds[0].Incident || ds[2].Action != quell.ActionCreated {
		t.Fatalf("third alert in a full incident: %s", reasons(ds))
	}
}

func TestUnknownResolveIsRecorded(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	ds := r.feed(time.Minute, occ{0, "alertname=A", quell.Resolved})
	if len(ds) != 1 || ds[0].Action != quell.ActionSuppressed || ds[0].Incident != "" {
		t.Fatalf("resolve of an unknown alert: %s", reasons(ds))
	}
}

func TestDecisionsAreHeldForGroupWait(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	a := alert(occ{labels: "alertname=A,service=x"})
	r.eng.Process(&a, t0)
	r.eng.Advance(t0.Add(cfg.GroupWait - time.Millisecond))
	if len(r.decisions) != 0 || len(r.changes) != 0 {
		t.Fatalf("decision or change out before group wait: %d, %d", len(r.decisions), len(r.changes))
	}
	r.eng.Advance(t0.Add(cfg.GroupWait))
	if len(r.decisions) != 1 || len(r.changes) != 1 || r.changes[0].Kind != quell.IncidentCreated {
		t.Fatalf("after group wait: %d decisions, changes %+v", len(r.decisions), r.changes)
	}
}

// TestNamelessStrangerSaysSo: an alert that names no entity at all is kept
// out of a young incident about one workload as a stranger is, and its
// reason says it names none, not that it is about another workload.
func TestNamelessStrangerSaysSo(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	r.feed(0, occ{0, "alertname=HighErrorRate,service=cart", ""}, occ{time.Second, "alertname=Watchdog", ""})
	r.eng.Flush()
	ds := r.decisions
	if len(ds) != 2 || ds[1].Action != quell.ActionCreated || ds[1].Incident == ds[0].Incident {
		t.Fatalf("decisions: %s, want the nameless alert in an incident of its own", reasons(ds))
	}
	if !strings.Contains(ds[1].Reason, "names no entity") || strings.Contains(ds[1].Reason, "another workload") {
		t.Fatalf("reason %q, want it to say the alert names no entity", ds[1].Reason)
	}
}

// TestUnrelatedMachinesAreStrangersWhileYoung: hosts that fail at once with
// nothing relating them, and an alert naming nothing, open incidents of
// their own while the first is young, and the reasons say why; once the
// problem is under way, another host joins on time, and a workload joins a
// machine's incident on time at once (what runs there).
func TestUnrelatedMachinesAreStrangersWhileYoung(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	r.feed(0,
		occ{0, "alertname=NodeDown,host=node-a", ""},
		occ{time.Second, "alertname=DiskFull,host=node-b", ""},
		occ{2 * time.Second, "alertname=Watchdog", ""},
		occ{cfg.GroupWait + 3*time.Second, "alertname=NodeDown,host=node-c", ""})
	r.eng.Flush()
	ds := r.decisions
	if len(ds) != 4 {
		t.Fatalf("%d decisions, want 4", len(ds))
	}
	for i, want := range []string{"", "about another machine", "names no entity"} {
		if d := ds[i]; d.Action != quell.ActionCreated || !strings.Contains(d.Reason, want) {
			t.Fatalf("%s: %s %q, want an incident of its own (%s)", d.Alert.Labels["alertname"], d.Action, d.Reason, want)
		}
	}
	if d := ds[3]; d.Action != quell.ActionJoined {
		t.Fatalf("a host once the problem is under way: %s %q, want it to join", d.Action, d.Reason)
	}

	r = newRun(t, cfg, nil)
	r.feed(0, occ{0, "alertname=NodeDown,host=node-a", ""}, occ{time.Second, "alertname=HighErrorRate,service=cart", ""})
	r.eng.Flush()
	if ds := r.decisions; len(ds) != 2 || ds[1].Action != quell.ActionJoined || ds[1].Incident != ds[0].Incident {
		t.Fatalf("decisions: %s, want the workload in the machine's incident", reasons(ds))
	}
}

func TestMemoryBoundEvictsTheLeastActiveIncident(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxIncidents = 2
	r := newRun(t, cfg, nil)
	r.feed(0, occ{0, "alertname=A,service=a", ""})
	b := alert(occ{labels: "alertname=B,service=b"})
	b.Annotations = map[string]string{"summary": "b is down"}
	r.eng.Process(&b, t0.Add(time.Second))
	r.feed(time.Minute,
		occ{2 * time.Second, "alertname=A,service=a", ""}, // keeps A active
		occ{3 * time.Second, "alertname=C,service=c", ""})
	var evicted []quell.Decision
	for _, d := range r.decisions {
		if d.Action == quell.ActionSuppressed && strings.Contains(d.Reason, "evicted") {
			evicted = append(evicted, d)
		}
	}
	if len(evicted) != 1 || evicted[0].Alert.Labels["alertname"] != "B" {
		t.Fatalf("want B's incident evicted with a record, got %s", reasons(r.decisions))
	}
	if r := evicted[0].Reason; !strings.HasPrefix(r, "evicted while open, with its alert: quell holds at most 2 incidents") {
		t.Errorf("the eviction's reason %q: want it to say B's incident was open, with its one alert, and the bound", r)
	}
	if got := evicted[0].Alert.Annotations["summary"]; got != "b is down" {
		t.Fatalf("the eviction's decision carries B's summary %q, want it as B's other decisions do", got)
	}
	if n := len(r.eng.Incidents(Query{})); n != 2 {
		t.Fatalf("%d incidents held, bound is 2", n)
	}
	var kinds []quell.ChangeKind
	for _, c := range r.changes {
		if c.Incident.ID == evicted[0].Incident {
			kinds = append(kinds, c.Kind)
		}
		// Readers of the incident (the API, the history) tell an eviction
		// from alerts that resolved by this mark.
		if c.Incident.Evicted != (c.Kind == quell.IncidentEvicted) {
			t.Errorf("%s change of incident %s marked evicted: %v", c.Kind, c.Incident.ID, c.Incident.Evicted)
		}
	}
	if len(kinds) == 0 || kinds[len(kinds)-1] != quell.IncidentEvicted {
		t.Fatalf("changes of the evicted incident: %v, want it to end with evicted", kinds)
	}
	// B fires again: it opens a new incident rather than joining the evicted one.
	ds := r.feed(time.Minute, occ{2 * time.Minute, "alertname=B,service=b", ""})
	if len(ds) < 1 || ds[len(ds)-1].Incident == evicted[0].Incident {
		t.Fatalf("refire after eviction: %s", reasons(ds))
	}
}

// TestEvictedWhileYoungDecidesInOrder: an incident evicted before it was
// announced holds its alerts' decisions until GroupWait; the decision that
// records the eviction comes after them, not before the alert's first
// decision, and says when quell last received the alert.
func TestEvictedWhileYoungDecidesInOrder(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxIncidents = 1
	r := newRun(t, cfg, nil)
	a := alert(occ{labels: "alertname=A,service=a"})
	a.ReceivedAt = t0.Add(time.Second)
	r.eng.Process(&a, t0.Add(time.Second))
	b := alert(occ{labels: "alertname=B,service=b"})
	r.eng.Process(&b, t0.Add(2*time.Second)) // a second incident: A's goes
	r.eng.Flush()
	var actions []quell.Action
	var evicted quell.Decision
	for _, d := range r.decisions {
		if d.Alert.Fingerprint == a.Fingerprint {
			actions = append(actions, d.Action)
			evicted = d
		}
	}
	if len(actions) != 2 || actions[0] != quell.ActionCreated || actions[1] != quell.ActionSuppressed {
		t.Fatalf("A's decisions: %v, want created then suppressed (evicted); all: %s", actions, reasons(r.decisions))
	}
	if !evicted.Alert.ReceivedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("the eviction's decision says A was received at %v, want when quell last saw it (%v)", evicted.Alert.ReceivedAt, t0.Add(time.Second))
	}
}

// TestFloodAtTheStateBoundKeepsIncidents: distinct alerts about 1,000
// services, past what the state may hold, so that each alert must free
// what it adds. Sent in webhooks of 100 (one receive time each), they must
// open no more incidents than the same alerts one at a time: among
// incidents last active at the same moment the one opened first goes
// first, not the ones opened a moment ago with one alert each, which free
// little and which the flood's next alerts were about to join.
func TestFloodAtTheStateBoundKeepsIncidents(t *testing.T) {
	flood := func(perWebhook int) (created, evicted int) {
		cfg := DefaultConfig()
		cfg.MaxStateBytes = 16 << 20
		eng, err := New(cfg, nil, Output{Decision: func(d quell.Decision) {
			switch d.Action {
			case quell.ActionCreated:
				created++
			case quell.ActionSuppressed:
				evicted++
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 60000 {
			a := alert(occ{labels: fmt.Sprintf("alertname=Flood%d,service=svc%d,instance=10.0.%d.%d:9100,n=%d", i%7, i%1000, i>>8&255, i&255, i)})
			eng.Process(&a, t0.Add(time.Duration(i/perWebhook*perWebhook)*30*time.Microsecond))
		}
		eng.Flush()
		return created, evicted
	}
	single, evicted := flood(1)
	if evicted == 0 {
		t.Fatal("nothing evicted: the flood stayed under the bound")
	}
	if batched, evicted := flood(100); batched > single*5/4 {
		t.Fatalf("%d incidents opened (%d evicted) in webhooks of 100, %d one alert at a time", batched, evicted, single)
	}
}

func TestHeldDecisionsAreBounded(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxHeldDecisions = 3
	r := newRun(t, cfg, nil)
	a := alert(occ{labels: "alertname=A,service=x"})
	for i := 0; i < 10; i++ { // repeats of an alert whose incident is younger than group wait
		r.eng.Process(&a, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(r.decisions) != 7 {
		t.Fatalf("%d decisions out while the incident is young, want the 7 beyond the bound of 3 held", len(r.decisions))
	}
	r.eng.Advance(t0.Add(cfg.GroupWait + time.Second))
	if len(r.decisions) != 10 {
		t.Fatalf("%d decisions after group wait, want all 10", len(r.decisions))
	}
}

// Prometheus re-sends a firing alert every minute with a later endsAt: the
// alert stays firing while refreshed, resolves once the refreshes stop, and
// keeps one timer however often it is sent.
func TestRefreshedExpiryKeepsFiring(t *testing.T) {
	cfg := fastConfig()
	r := newRun(t, cfg, nil)
	for i := 0; i < 10; i++ {
		a := alert(occ{labels: "alertname=A,service=x"})
		a.EndsAt = t0.Add(time.Duration(i)*time.Minute + 4*time.Minute)
		r.eng.Process(&a, t0.Add(time.Duration(i)*time.Minute))
	}
	if n := len(r.eng.timers); n > 3 {
		t.Fatalf("%d timers pending after 10 refreshes of one alert", n)
	}
	r.eng.Advance(t0.Add(12 * time.Minute))
	if inc := r.eng.Incidents(Query{})[0]; inc.Alerts[0].Status != quell.Firing {
		t.Fatalf("alert resolved at its first endsAt although refreshed: %+v", inc)
	}
	r.eng.Advance(t0.Add(13*time.Minute + cfg.ResolveHold))
	if inc := r.eng.Incidents(Query{})[0]; inc.Status != quell.IncidentResolved {
		t.Fatalf("alert not resolved after its last endsAt: %+v", inc)
	}
}

// TestTitleEscapesHiddenCharacters: a NUL or a bidi override in a label
// reaches the title (and tickets, chat) escaped, not as is.
func TestTitleEscapesHiddenCharacters(t *testing.T) {
	var changes []quell.IncidentChange
	e, err := New(DefaultConfig(), nil, Output{Change: func(c quell.IncidentChange) { changes = append(changes, c) }})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Fingerprint: 1, StartsAt: at,
		Labels: map[string]string{"alertname": "Disk\x00Full", "service": "pay\u202Etnemy"}}
	e.Process(&a, at)
	e.Advance(at.Add(time.Hour))
	incs := e.Incidents(Query{})
	if len(incs) != 1 || incs[0].Title != `Disk\u0000Full on pay\u202Etnemy` {
		t.Fatalf("incidents %+v; want one titled with the hidden characters escaped", incs)
	}
}

// TestEvictionOrderIsTheScansOrder: the eviction queue picks, at any point,
// the incident a scan of all of them would: resolved before open, then the
// least recently active.
func TestEvictionOrderIsTheScansOrder(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	scanMin := func() *incident {
		var min *incident
		for _, inc := range r.eng.incidents {
			if min == nil || entryOf(inc).before(entryOf(min)) {
				min = inc
			}
		}
		return min
	}
	occs := stream(13, 3000)
	for i := 0; i < len(occs); i += 300 {
		r.feed(0, occs[i:min(i+300, len(occs))]...)
		if got, want := r.eng.nextVictim(), scanMin(); got != want {
			t.Fatalf("after %d occurrences: the queue picks %v, a scan %v", i+300, keyOf(got), keyOf(want))
		}
	}
	at := r.eng.now
	for n := len(r.eng.incidents); n > 0; n-- {
		got, want := r.eng.nextVictim(), scanMin()
		if got != want {
			t.Fatalf("evicting with %d left: the queue picks %v, a scan %v", n, keyOf(got), keyOf(want))
		}
		r.eng.evict(got, at, "a test")
	}
}

// TestIncidentsPage: paging with a cursor visits every incident once, in
// the order of the whole list (newest first), whatever the page size.
func TestIncidentsPage(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	for i := range 40 { // unrelated, half an hour apart: one incident each
		r.feed(0, occ{time.Duration(i) * 30 * time.Minute, fmt.Sprintf("alertname=Unrelated%d,service=svc%d", i, i), ""})
	}
	all := r.eng.Incidents(Query{})
	if len(all) < 20 {
		t.Fatalf("only %d incidents to page through", len(all))
	}
	for _, size := range []int{1, 7, len(all)} {
		var got []quell.Incident
		for q := (Query{Limit: size}); ; {
			page := r.eng.Incidents(q)
			got = append(got, page...)
			if len(page) < size {
				break
			}
			q.After = CursorOf(page[len(page)-1])
		}
		if len(got) != len(all) {
			t.Fatalf("pages of %d: %d incidents, want %d", size, len(got), len(all))
		}
		for i := range got {
			if got[i].ID != all[i].ID {
				t.Fatalf("pages of %d: incident %d is %s, want %s", size, i, got[i].ID, all[i].ID)
			}
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("incident %d is newer than the one before it", i)
		}
	}
}

// stateBytesByHand sums what the engine's incidents hold, member by member.
func stateBytesByHand(e *Engine) int64 {
	var n int64
	for _, inc := range e.incidents {
		n += incidentOverhead
		for _, m := range inc.members {
			n += memberBytes(m)
		}
	}
	return n
}

// TestStateBytesBound: with MaxStateBytes set, the least active incidents
// go once their alerts hold more, each with a decision naming memory_limit,
// and the running total agrees with a count by hand through joins,
// merges, resolves and evictions.
func TestStateBytesBound(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxStateBytes = 64 << 10
	r := newRun(t, cfg, nil)
	big := strings.Repeat("x", 4<<10)
	for i := range 40 {
		at := time.Duration(i) * 10 * time.Second
		r.feed(0,
			occ{at, fmt.Sprintf("alertname=Big%d,service=svc%d,pad=%s", i, i%8, big), ""},
			occ{at + time.Second, fmt.Sprintf("alertname=Other%d,service=svc%d,pad=%s", i, i%8, big), ""})
		if i%5 == 4 {
			r.feed(0, occ{at + 2*time.Second, fmt.Sprintf("alertname=Big%d,service=svc%d,pad=%s", i, i%8, big), quell.Resolved})
		}
		if got, want := r.eng.stateBytes, stateBytesByHand(r.eng); got != want {
			t.Fatalf("after %d rounds the engine counts %d bytes, its members hold %d", i+1, got, want)
		}
		if r.eng.stateBytes > cfg.MaxStateBytes {
			t.Fatalf("after %d rounds its incidents hold %d bytes, over the bound of %d", i+1, r.eng.stateBytes, cfg.MaxStateBytes)
		}
	}
	r.feed(time.Hour)
	if got, want := r.eng.stateBytes, stateBytesByHand(r.eng); got != want {
		t.Fatalf("at the end the engine counts %d bytes, its members hold %d", got, want)
	}
	evicted := 0
	for _, d := range r.decisions {
		if d.Action == quell.ActionSuppressed && strings.Contains(d.Reason, "memory_limit") {
			evicted++
		}
	}
	if evicted == 0 {
		t.Fatalf("no eviction for bytes among the decisions:%s", reasons(r.decisions))
	}
}

// An incident's title summarises it: the lead symptom, the entities its
// alerts are about (three named, the rest counted), how many alerts more.
func TestTitleSummarises(t *testing.T) {
	inc := &incident{title: "HighErrorRate on cart", members: map[quell.Fingerprint]*member{}}
	add := func(fp quell.Fingerprint, name, svc string) {
		m := &member{IncidentAlert: quell.IncidentAlert{Fingerprint: fp}}
		m.setLabels(map[string]string{"alertname": name, "service": svc})
		inc.members[fp] = m
		inc.order = append(inc.order, fp)
	}
	add(1, "HighErrorRate", "cart")
	if got := inc.summary(); got != "HighErrorRate on cart" {
		t.Errorf("one alert: %q", got)
	}
	add(2, "HighLatency", "cart")
	if got := inc.summary(); got != "HighErrorRate on cart (+1 alert)" {
		t.Errorf("two alerts: %q", got)
	}
	for i, svc := range []string{"checkout", "payment", "shipping", "email"} {
		add(quell.Fingerprint(3+i), "HighLatency", svc)
	}
	if got := inc.summary(); got != "HighErrorRate on cart, checkout, payment and 2 more (+5 alerts)" {
		t.Errorf("six alerts on five services: %q", got)
	}
}

// An incident lists its alerts' runbooks, each once.
func TestRunbooks(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	for i, rb := range []string{"https://runbooks.example.com/disk", "https://runbooks.example.com/disk", "https://runbooks.example.com/io", ""} {
		a := alert(occ{labels: fmt.Sprintf("alertname=Disk%d,service=db", i)})
		if rb != "" {
			a.Annotations = map[string]string{"runbook_url": rb}
		}
		r.eng.Process(&a, t0.Add(time.Duration(i)*time.Second))
	}
	incs := r.eng.Incidents(Query{})
	if len(incs) != 1 || !slices.Equal(incs[0].Runbooks, []string{"https://runbooks.example.com/disk", "https://runbooks.example.com/io"}) {
		t.Fatalf("incidents %d, runbooks %v", len(incs), incs[0].Runbooks)
	}
}

// The bytes MaxStateBytes bounds follow what the engine really holds: the
// heap grows by what stateBytes counts (within a fifth), for alerts with
// many labels and with few, so that memory_limit's share for the state is
// the state's memory.
func TestStateBytesFollowTheHeap(t *testing.T) {
	for _, c := range []struct {
		small, apart bool // few labels; every alert an incident of its own
	}{{false, false}, {true, false}, {true, true}} {
		small := c.small
		cfg := DefaultConfig()
		cfg.MaxStateBytes, cfg.MaxTrackedAlerts, cfg.MaxIncidents = 0, 1<<30, 1<<30
		eng, err := New(cfg, nil, Output{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 150000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// The alerts' label and annotation maps are measured too: the
		// engine keeps them once ingest lets go of the request.
		alerts := make([]quell.Alert, n)
		for i := range alerts {
			svc := fmt.Sprintf("svc-%02d", i%60)
			if c.apart {
				svc = fmt.Sprintf("svc-%05d", i)
			}
			l := map[string]string{"alertname": []string{"HighErrorRate", "HighLatency", "KubePodCrashLooping", "TargetDown"}[i%4],
				"service": svc, "pod": fmt.Sprintf("%s-%08x-%d", svc, i*7, i)}
			ann := map[string]string{"summary": "5xx ratio above 5%"}
			if !small {
				l["severity"], l["job"], l["namespace"], l["cluster"] = "warning", svc, "shop", []string{"prod-eu-1", "prod-us-1"}[i%2]
				l["instance"] = fmt.Sprintf("10.%d.%d.%d:8080", i%3, i/250%250, i%250+1)
				ann["description"] = fmt.Sprintf("HighErrorRate on %s-%d: 5xx ratio above 5%%", svc, i)
				ann["runbook_url"] = "https://runbooks.example.com/HighErrorRate"
			}
			alerts[i] = quell.Alert{Source: "alertmanager", Status: quell.Firing, StartsAt: t0, Severity: quell.Warning,
				Labels: l, Annotations: ann, Fingerprint: quell.Fingerprint(i + 1)}
		}
		gap := time.Millisecond
		if c.apart {
			gap = 11 * time.Minute // past the window: unrelated
		}
		for i := range alerts {
			eng.Process(&alerts[i], t0.Add(time.Duration(i)*gap))
		}
		eng.Flush()
		alerts = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		ratio := heap / float64(eng.stateBytes)
		t.Logf("few labels %v, %d incidents: heap %.0f bytes an alert, counted %d (ratio %.2f)", small, len(eng.incidents), heap/n, eng.stateBytes/n, ratio)
		if ratio < 0.8 || ratio > 1.2 {
			t.Errorf("few labels %v, %d incidents: the heap grew %.2f times what the state's bytes count", small, len(eng.incidents), ratio)
		}
		runtime.KeepAlive(eng)
	}
}

// A flood of new alerts that are evicted long before their announced ends
// leaves no timers behind for them: memory follows what is tracked, not
// what arrived within resolve_timeout.
// Unrelated alerts evicted while their incidents are young (a flood at
// the incident bound): each incident goes out once, as evicted (resolved,
// with its alerts), not created and at once evicted, which opened and
// closed a ticket per incident; and no timer keeps it in memory until
// group_wait.
func TestEvictedYoungIncidentsLeaveNoTimers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxIncidents = 1000
	changes := map[string][]quell.IncidentChange{}
	eng, err := New(cfg, nil, Output{Change: func(c quell.IncidentChange) { changes[c.Incident.ID] = append(changes[c.Incident.ID], c) }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 150000 // 20 s: all of them younger than group_wait when evicted
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, StartsAt: at,
			Labels: map[string]string{"alertname": "Flood", "service": fmt.Sprintf("svc-%d", i)}, Fingerprint: quell.Fingerprint(i + 1)}
		eng.Process(&a, at)
	}
	if live := len(eng.incidents) + eng.tracker.Len(); len(eng.timers) > 2*live+1024 {
		t.Errorf("%d timers pending for %d incidents and %d tracked alerts", len(eng.timers), len(eng.incidents), eng.tracker.Len())
	}
	evicted := 0
	for id, cs := range changes {
		if len(cs) != 1 || cs[0].Kind != quell.IncidentEvicted {
			kinds := make([]quell.ChangeKind, len(cs))
			for i := range cs {
				kinds[i] = cs[i].Kind
			}
			t.Fatalf("incident %s: changes %v, want one: evicted", id, kinds)
		}
		if c := cs[0]; c.Seq != 1 || c.Incident.Status != quell.IncidentResolved || !c.Incident.Evicted || len(c.Incident.Alerts) != 1 {
			t.Fatalf("incident %s evicted as seq %d, %s (marked evicted: %v), with %d alerts: want seq 1, resolved, marked, with its alert",
				id, c.Seq, c.Incident.Status, c.Incident.Evicted, len(c.Incident.Alerts))
		}
		evicted++
	}
	if evicted != n-cfg.MaxIncidents {
		t.Errorf("%d incidents went out as evicted, want %d", evicted, n-cfg.MaxIncidents)
	}
}

// An incident that resolved before it was announced and is then evicted
// goes out once, as evicted, with the time it resolved.
func TestEvictedUnannouncedResolvedIncident(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GroupWait, cfg.ResolveHold, cfg.MaxIncidents = 5*time.Minute, 10*time.Second, 1
	r := newRun(t, cfg, nil)
	r.feed(15*time.Second, occ{0, "alertname=A,service=a", ""}, occ{time.Second, "alertname=A,service=a", quell.Resolved})
	if len(r.changes) != 0 {
		t.Fatalf("changes before the eviction: %d, want none (group_wait is 5m)", len(r.changes))
	}
	r.feed(0, occ{20 * time.Second, "alertname=B,service=b", ""})
	if len(r.changes) != 1 {
		t.Fatalf("%d changes, want one: A's incident evicted", len(r.changes))
	}
	c := r.changes[0]
	if c.Kind != quell.IncidentEvicted || c.Seq != 1 || c.Incident.Status != quell.IncidentResolved || c.Incident.Alerts[0].Labels["alertname"] != "A" {
		t.Fatalf("change %s seq %d of a %s incident, want A's incident evicted, seq 1, resolved", c.Kind, c.Seq, c.Incident.Status)
	}
	if want := t0.Add(11 * time.Second); !c.Incident.ResolvedAt.Equal(want) {
		t.Errorf("evicted incident resolved at %s, want %s (when it resolved, not when it was evicted)", c.Incident.ResolvedAt, want)
	}
}

func TestEvictedAlertsLeaveNoTimers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTrackedAlerts = 1000
	eng, err := New(cfg, nil, Output{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 150000
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, StartsAt: at, EndsAt: at.Add(5 * time.Minute),
			Labels:      map[string]string{"alertname": "Flood", "service": fmt.Sprintf("svc-%d", i%100), "n": fmt.Sprint(i)},
			Fingerprint: quell.Fingerprint(i + 1)}
		eng.Process(&a, at)
	}
	if eng.tracker.Len() > cfg.MaxTrackedAlerts {
		t.Fatalf("%d alerts tracked, at most %d allowed", eng.tracker.Len(), cfg.MaxTrackedAlerts)
	}
	// Each tracked alert has its expiry; incidents have announce and
	// resolve deadlines; the rest may be dead timers awaiting compaction,
	// never more than the live ones.
	if live := eng.tracker.Len() + 2*len(eng.incidents); len(eng.timers) > 2*live+1024 {
		t.Errorf("%d timers pending for %d tracked alerts and %d incidents", len(eng.timers), eng.tracker.Len(), len(eng.incidents))
	}
	// The survivors' deadlines still fire: past them, every alert resolved.
	eng.Advance(t0.Add(n*time.Millisecond + 10*time.Minute))
	for _, inc := range eng.incidents {
		if inc.firing != 0 {
			t.Fatalf("incident %s still has %d firing alerts after every end passed", inc.id, inc.firing)
		}
	}
}

// TestSilentIncidentLetsItsAlertsGo: an alert that fires again (a later
// start, no resolve between) stays in its open incident, unless every alert
// of that incident went quiet for over two of their report intervals and
// another incident now scores higher: then it moves there, and says why.
func TestSilentIncidentLetsItsAlertsGo(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reporting time.Duration // the incident's alerts report every minute until then
		other     bool          // a new problem on shipping at 9m
		moves     bool
		reason    string
	}{
		{"silent, a new problem scores higher", 5 * time.Minute, true, true, "score "},
		{"silent, nothing else scores higher", 5 * time.Minute, false, false, "fired again after its incident was silent for 4m10s; no other open incident scored higher: stays in it"},
		{"still reporting", 9 * time.Minute, true, false, "fired again while its incident is open: stays in it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t, DefaultConfig(), nil)
			for at := time.Duration(0); at <= tc.reporting; at += time.Minute {
				r.fire(at, "alertname=Latency,service=shipping")
				r.fire(at, "alertname=Errors,service=shipping")
			}
			if tc.other {
				r.fire(9*time.Minute, "alertname=CPUThrottling,service=shipping")
			}
			again := r.fire(9*time.Minute+10*time.Second, "alertname=Latency,service=shipping")
			r.eng.Advance(t0.Add(time.Hour))
			was := r.decided(t0)[0].Incident
			d := r.decided(again)[0]
			if moved := d.Incident != was; moved != tc.moves {
				t.Fatalf("moved %v, want %v: %s", moved, tc.moves, d.Reason)
			}
			if !strings.HasPrefix(d.Reason, tc.reason) {
				t.Fatalf("reason %q, want it to start %q", d.Reason, tc.reason)
			}
			if tc.moves && !strings.HasSuffix(d.Reason, "; moved from incident "+was+", whose alerts were all silent for 4m10s") {
				t.Fatalf("reason %q does not name the incident it left", d.Reason)
			}
		})
	}
}

// TestSilenceOutlastsARestart: a re-fire that stayed in its silent incident
// did not end the silence, in an engine restored from a snapshot too.
func TestSilenceOutlastsARestart(t *testing.T) {
	var moved [2]quell.Decision
	for i, restart := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		for at := time.Duration(0); at <= 5*time.Minute; at += time.Minute {
			r.fire(at, "alertname=Latency,service=shipping")
			r.fire(at, "alertname=Errors,service=shipping")
		}
		r.fire(9*time.Minute, "alertname=Latency,service=shipping") // silent, nothing else: stays
		if restart {
			snap := r.eng.Snapshot()
			r = newRun(t, DefaultConfig(), nil)
			r.eng.Restore(throughJSON(t, snap))
		}
		r.fire(9*time.Minute+30*time.Second, "alertname=CPUThrottling,service=shipping")
		again := r.fire(10*time.Minute, "alertname=Errors,service=shipping")
		r.eng.Advance(t0.Add(time.Hour))
		moved[i] = r.decided(again)[0]
	}
	if !strings.HasSuffix(moved[0].Reason, "whose alerts were all silent for 5m0s") {
		t.Fatalf("Errors, silent since 5m, fired again at 10m: %s", moved[0].Reason)
	}
	if moved[1].Incident != moved[0].Incident || moved[1].Reason != moved[0].Reason {
		t.Fatalf("after a restart: %s %s, want %s %s", moved[1].Incident, moved[1].Reason, moved[0].Incident, moved[0].Reason)
	}
}

// TestSilentPartRelatesNothing: a value or graph node of an incident whose
// alerts stopped reporting (for two of their intervals) no longer relates a
// new alert to the incident, while the rest of it still reports; a
// restored engine knows when it last heard of each.
func TestSilentPartRelatesNothing(t *testing.T) {
	var reasons [2]string
	for i, restart := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		for at := time.Duration(0); at <= 9*time.Minute; at += time.Minute {
			r.fire(at, "alertname=Latency,service=cart")
			if at <= 5*time.Minute { // cart's calls to payments fail until 5m
				r.fire(at, "alertname=CallErrors,service=cart,peer_service=payments")
			}
		}
		if restart {
			snap := r.eng.Snapshot()
			r = newRun(t, DefaultConfig(), nil)
			r.eng.Restore(throughJSON(t, snap))
		}
		down := r.fire(9*time.Minute+10*time.Second, "alertname=Down,service=payments")
		r.eng.Advance(t0.Add(time.Hour))
		reasons[i] = r.decided(down)[0].Reason
	}
	if strings.Contains(reasons[0], "graph node payments") || !strings.Contains(reasons[0], "1 hop (payments -> cart)") ||
		!strings.Contains(reasons[0], "nothing about payments in it for 4m10s") {
		t.Fatalf("payments, silent in the incident since 5m, down at 9m10s: %s; want it related through cart, which still reports, and why not through payments", reasons[0])
	}
	if reasons[1] != reasons[0] {
		t.Fatalf("after a restart: %s, want %s", reasons[1], reasons[0])
	}
}

// fire processes a firing occurrence that reports its own time as its start
// (as a sender that re-triggers without a resolve does), and returns that.
func (r *run) fire(at time.Duration, labels string) time.Time {
	a := alert(occ{at: at, labels: labels})
	a.StartsAt = t0.Add(at)
	r.eng.Process(&a, a.StartsAt)
	return a.StartsAt
}

// decided returns the decisions made so far for occurrences that started at.
func (r *run) decided(at time.Time) []quell.Decision {
	r.t.Helper()
	var out []quell.Decision
	for _, d := range r.decisions {
		if d.Alert.StartsAt.Equal(at) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		r.t.Fatalf("no decision for the occurrence at %s", at.Sub(t0))
	}
	return out
}
