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
// every minute (on other hosts) a shared host is little sign of one
// problem (it counts only while the incident is new, and its reason says
// so), and the second, about another workload, opens its own, the same
// after a restart. One probe flapping every minute does not make a scope
// busy.
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
	if !strings.Contains(reasons["busy"], "2 hops (payments -> node-1 -> cart: a shared host, in a busy scope, while the incident is new), about another workload") {
		t.Fatalf("busy scope: %s; want why the host relates nothing", reasons["busy"])
	}
	if reasons["busy, restarted"] != reasons["busy"] {
		t.Fatalf("after a restart: %s, want %s", reasons["busy, restarted"], reasons["busy"])
	}
}

// TestBusyScopeSharedHostCountsOnlyAtFirst: cart and payments run on
// node-1, as quell learned long before. cart's problem starts, node-2's
// alert joins it at once, and cart raises a new alert every 30 s; three
// minutes in, payments alerts 5 s after cart's latest, with cart's first
// alertname. In a calm scope the shared host relates payments to cart's
// problem; in a busy one, that long after the problem started, neither
// the host nor the machine the incident holds does, and payments opens
// its own incident (cart's, by the alertname they share, is the best
// candidate its reason names).
func TestBusyScopeSharedHostCountsOnlyAtFirst(t *testing.T) {
	for _, busy := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		r.fire(0, "alertname=Warming,service=cart,host=node-1")
		r.fire(0, "alertname=Warming,service=payments,host=node-1")
		r.feed(0, occ{at: time.Minute, labels: "alertname=Warming,service=cart,host=node-1", status: quell.Resolved},
			occ{at: time.Minute, labels: "alertname=Warming,service=payments,host=node-1", status: quell.Resolved})
		if busy {
			makeBusy(r)
		}
		start := 41 * time.Minute
		cart := r.fire(start, "alertname=Latency,service=cart")
		node := r.fire(start+5*time.Second, "alertname=NodeDown,node=node-2")
		for at := start + 30*time.Second; at <= start+3*time.Minute; at += 30 * time.Second {
			r.fire(at, fmt.Sprintf("alertname=Cart%d,service=cart", at/time.Second))
		}
		payments := r.fire(start+3*time.Minute+5*time.Second, "alertname=Latency,service=payments")
		r.eng.Advance(t0.Add(2 * time.Hour))
		inc := r.decided(cart)[0].Incident
		if got := r.decided(node)[0].Incident; got != inc {
			t.Fatalf("busy scope %v: node-2's alert went to %s, want cart's incident %s", busy, got, inc)
		}
		d := r.decided(payments)[0]
		if joined := d.Incident == inc; joined == busy {
			t.Fatalf("busy scope %v: payments joined cart's incident: %v (%s)", busy, joined, d.Reason)
		}
		if busy && !strings.Contains(d.Reason, "2 hops (payments -> node-1 -> cart: a shared host only, in a busy scope), about another workload in a busy scope, 5s after") {
			t.Fatalf("busy scope: %s; want why neither the host nor node-2 relates payments", d.Reason)
		}
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

// TestBusyScopeMachineTakesStrangersOnlyAtFirst: node-1 goes down and
// reports every 15 s; cart (nothing tells where it runs) alerts 15 s
// later and raises a new alert every 30 s. search alerts 50 s after
// node-1 (past group_wait), ads nearly five minutes after, each 5 s after
// cart's latest; nothing relates either to node-1 or to cart. A host's
// trouble shows on its workloads at once: cart and search join node-1's
// incident in a calm scope and a busy one alike. In a busy scope ads,
// long after, is a problem of its own; in a calm one the problem under
// way takes it.
func TestBusyScopeMachineTakesStrangersOnlyAtFirst(t *testing.T) {
	for _, busy := range []bool{false, true} {
		r := newRun(t, DefaultConfig(), nil)
		if busy {
			makeBusy(r)
		}
		start := 41 * time.Minute
		node := r.fire(start, "alertname=NodeDown,node=node-1")
		fired := map[string]time.Time{}
		for at := start + 15*time.Second; at <= start+5*time.Minute; at += 15 * time.Second {
			r.feed(0, occ{at: at, labels: "alertname=NodeDown,node=node-1"})
			if (at-start)%(30*time.Second) == 0 {
				continue
			}
			cart := r.fire(at, fmt.Sprintf("alertname=Cart%d,service=cart", at/time.Second))
			switch at - start {
			case 15 * time.Second:
				fired["cart"] = cart
			case 45 * time.Second:
				fired["search"] = r.fire(at+5*time.Second, "alertname=Errors,service=search")
			case 4*time.Minute + 45*time.Second:
				fired["ads"] = r.fire(at+5*time.Second, "alertname=Errors,service=ads")
			}
		}
		r.eng.Advance(t0.Add(2 * time.Hour))
		inc := r.decided(node)[0].Incident
		for _, w := range []string{"cart", "search", "ads"} {
			d := r.decided(fired[w])[0]
			want := w != "ads" || !busy
			if joined := d.Incident == inc; joined != want {
				t.Fatalf("busy scope %v: %s joined node-1's incident: %v, want %v (%s)", busy, w, joined, want, d.Reason)
			}
			if w == "ads" && busy && !strings.Contains(d.Reason, "about another workload in a busy scope, 5s after the incident's last alert") {
				t.Fatalf("busy scope: %s; want why node-1's incident did not take ads", d.Reason)
			}
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
