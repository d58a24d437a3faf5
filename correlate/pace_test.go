package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestPaceIsBusyWhenMostMinutesSeeAStart checks the boundary (alerts
// started in 15 of the 29 whole minutes before, not 14), that minutes long
// gone count nothing, and that a restore keeps the counts.
func TestPaceIsBusyWhenMostMinutesSeeAStart(t *testing.T) {
	now := t0.Add((paceMinutes - 1) * time.Minute) // the whole minutes before: t0's to now's
	for _, k := range []int{14, 15} {
		var p pace
		for m := range k {
			p.note(t0.Add(time.Duration(m)*time.Minute + 10*time.Second))
			p.note(t0.Add(time.Duration(m)*time.Minute + 20*time.Second))
		}
		if got := p.busy(now); got != (k == 15) {
			t.Fatalf("alerts started in %d of the last 29 minutes: busy %v", k, got)
		}
		if p.busy(now.Add(paceMinutes * time.Minute)) {
			t.Fatalf("alerts started in %d minutes half an hour ago and none since: busy", k)
		}
		var back pace
		back.restore(p.minute, p.started())
		if back != p {
			t.Fatalf("restored %+v, want %+v", back, p)
		}
	}
}

// makeBusy starts an alert about another service, on a host of its own,
// in every minute from 1m to 40m: the scope is busy from then on.
func makeBusy(r *run) {
	for m := 1; m <= 40; m++ {
		r.fire(time.Duration(m)*time.Minute, fmt.Sprintf("alertname=Noise,service=other%d,host=node-%d", m, 100+m))
	}
}

// TestSharedHostRelatesLittleInABusyScope: two workloads quell saw on one
// host fail five seconds apart. In a calm scope the second joins the
// first's incident through the host; in a scope where alerts start firing
// every minute (on other hosts) a shared host is no sign of one problem,
// and the second, about another workload, opens its own, with a reason
// that says so, the same after a restart. One probe flapping every minute
// does not make a scope busy.
func TestSharedHostRelatesLittleInABusyScope(t *testing.T) {
	flapping := func(r *run) {
		for m := 1; m <= 38; m++ {
			r.feed(0, occ{at: time.Duration(m) * time.Minute, labels: "alertname=ProbeFailing,service=probe"},
				occ{at: time.Duration(m)*time.Minute + 30*time.Second, labels: "alertname=ProbeFailing,service=probe", status: quell.Resolved})
		}
	}
	reasons := map[string]string{}
	for _, c := range []struct {
		name    string
		noise   func(*run)
		restart bool
		joins   bool
	}{{"calm", nil, false, true}, {"busy", makeBusy, false, false}, {"busy, restarted", makeBusy, true, false}, {"flapping", flapping, false, true}} {
		r := newRun(t, DefaultConfig(), nil)
		// quell learns where cart and payments run, and forgets the alerts
		// that told it long before the failure.
		r.fire(0, "alertname=Warming,service=cart,host=node-1")
		r.fire(0, "alertname=Warming,service=payments,host=node-1")
		r.feed(0, occ{at: time.Minute, labels: "alertname=Warming,service=cart,host=node-1", status: quell.Resolved},
			occ{at: time.Minute, labels: "alertname=Warming,service=payments,host=node-1", status: quell.Resolved})
		if c.noise != nil {
			c.noise(r)
		}
		cart := r.fire(41*time.Minute, "alertname=Latency,service=cart")
		if c.restart {
			snap := r.eng.Snapshot()
			decided := r.decisions
			r = newRun(t, DefaultConfig(), nil)
			r.eng.Restore(throughJSON(t, snap))
			r.decisions = decided
		}
		payments := r.fire(41*time.Minute+5*time.Second, "alertname=Errors,service=payments") // on node-1, as quell learned at 0
		r.eng.Advance(t0.Add(2 * time.Hour))
		d := r.decided(payments)[0]
		reasons[c.name] = d.Reason
		if joined := d.Incident == r.decided(cart)[0].Incident; joined != c.joins {
			t.Fatalf("%s: payments joined cart's incident: %v, want %v (%s)", c.name, joined, c.joins, d.Reason)
		}
	}
	if !strings.Contains(reasons["calm"], "2 hops (payments -> node-1 -> cart)") {
		t.Fatalf("calm scope: %s; want the path through the host", reasons["calm"])
	}
	if !strings.Contains(reasons["busy"], "2 hops (payments -> node-1 -> cart: a shared host only, in a busy scope), about another workload") {
		t.Fatalf("busy scope: %s; want why the host relates nothing", reasons["busy"])
	}
	if reasons["busy, restarted"] != reasons["busy"] {
		t.Fatalf("after a restart: %s, want %s", reasons["busy, restarted"], reasons["busy"])
	}
}

// TestBusyScopeTakesNoStrangerOnTime: cart's problem is 100 s under way
// when search, which nothing relates to cart, alerts in the same
// instant as cart's latest alert. In a calm scope the problem under way
// takes it; in a scope where alerts start firing every minute it is a
// problem of its own, and its reason says why.
func TestBusyScopeTakesNoStrangerOnTime(t *testing.T) {
	for _, busy := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		if busy {
			makeBusy(r)
		}
		cart := r.fire(41*time.Minute, "alertname=Latency,service=cart")
		r.fire(41*time.Minute+50*time.Second, "alertname=Errors,service=cart")
		at := 41*time.Minute + 100*time.Second // cart's incident is past group_wait
		r.fire(at, "alertname=Saturation,service=cart")
		a := alert(occ{at: at, labels: "alertname=Latency,service=search"})
		r.eng.Process(&a, t0.Add(at))
		r.eng.Advance(t0.Add(2 * time.Hour))
		var d quell.Decision
		for _, x := range r.decisions {
			if x.Alert.Fingerprint == a.Fingerprint {
				d = x
			}
		}
		if joined := d.Incident == r.decided(cart)[0].Incident; joined == busy {
			t.Fatalf("busy scope %v: search joined cart's incident: %v (%s)", busy, joined, d.Reason)
		}
		if busy && !strings.Contains(d.Reason, "about another workload in a busy scope, 0s after the incident's last alert") {
			t.Fatalf("busy scope: %s; want why time did not pull it in", d.Reason)
		}
	}
}

// TestBusyScopeMachineLinksOnlyWhatItRelatesTo: cart (on node-1) and
// search fail two seconds apart, two young incidents; then node-1 goes
// down. In a calm scope the machine's alert links both, and they merge
// (a node's trouble shows on what runs there); in a busy scope it links
// only cart's, which runs there, and search's stays apart.
func TestBusyScopeMachineLinksOnlyWhatItRelatesTo(t *testing.T) {
	for _, busy := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		r.fire(0, "alertname=Warming,service=cart,host=node-1")
		r.feed(0, occ{at: time.Minute, labels: "alertname=Warming,service=cart,host=node-1", status: quell.Resolved})
		if busy {
			makeBusy(r)
		}
		cart := r.fire(41*time.Minute, "alertname=Latency,service=cart")
		search := r.fire(41*time.Minute+2*time.Second, "alertname=Latency,service=search")
		node := r.fire(41*time.Minute+4*time.Second, "alertname=NodeDown,node=node-1")
		r.eng.Advance(t0.Add(2 * time.Hour))
		inc := r.decided(cart)[0].Incident
		if got := r.decided(node)[0].Incident; got != inc {
			t.Fatalf("busy scope %v: node-1's alert went to %s, want cart's incident %s", busy, got, inc)
		}
		if merged := r.decided(search)[0].Incident == inc; merged == busy {
			t.Fatalf("busy scope %v: search's incident merged into cart's: %v", busy, merged)
		}
	}
}
