package correlate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// stream is a reproducible mix of related and unrelated alerts, repeats,
// resolves and re-fires over a few hours.
func stream(seed uint64, n int) []occ {
	rng := rand.New(rand.NewPCG(seed, 1))
	services := []string{"web", "api", "db", "cache", "queue", "mail"}
	var out []occ
	at := time.Duration(0)
	for i := 0; i < n; i++ {
		at += time.Duration(rng.IntN(20000)) * time.Millisecond
		st := quell.Firing
		if rng.IntN(4) == 0 {
			st = quell.Resolved
		}
		out = append(out, occ{at, fmt.Sprintf("alertname=A%d,service=%s,instance=h%d", rng.IntN(5), services[rng.IntN(len(services))], rng.IntN(3)), st})
	}
	return out
}

func topoForTests(t testing.TB) *Topology {
	topo, err := ParseTopology(strings.NewReader(`{"nodes":[{"id":"web"},{"id":"api"},{"id":"db"},{"id":"cache"},{"id":"queue"},{"id":"mail"}],
		"edges":[{"source":"web","target":"api"},{"source":"api","target":"db"},{"source":"api","target":"cache"},{"source":"queue","target":"mail"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestEveryOccurrenceGetsOneDecisionAndReplayIsDeterministic(t *testing.T) {
	occs := stream(7, 3000)
	var logs [2][]quell.Decision
	for i := range logs {
		r := newRun(t, fastConfig(), topoForTests(t))
		r.feed(0, occs...)
		r.eng.Flush()
		logs[i] = r.decisions
	}
	if len(logs[0]) != len(occs) {
		t.Fatalf("%d decisions for %d occurrences", len(logs[0]), len(occs))
	}
	if !reflect.DeepEqual(logs[0], logs[1]) {
		t.Fatal("two runs over the same input decided differently")
	}
	actions := map[quell.Action]int{}
	for _, d := range logs[0] {
		actions[d.Action]++
	}
	for _, a := range []quell.Action{quell.ActionCreated, quell.ActionJoined, quell.ActionDeduplicated, quell.ActionResolved} {
		if actions[a] == 0 {
			t.Errorf("the stream exercised no %q decision: %v", a, actions)
		}
	}
}

// A restart in the middle of a stream, through a JSON snapshot, decides
// exactly as an uninterrupted run.
func TestSnapshotRestoreContinuesExactly(t *testing.T) {
	restoreContinuesExactly(t, stream(11, 2000), []int{1, 500, 1234, 1999})
}

// The same for alerts that come in batches (one evaluation a minute), with
// restarts within a batch: the incidents opened in it are weighed again
// once it ends (settle), by a restarted engine too.
func TestSnapshotRestoreWithinABatchContinuesExactly(t *testing.T) {
	occs := stream(7, 2000) // a seed whose batches merge incidents as they end
	for i := range occs {
		occs[i].at = occs[i].at.Truncate(time.Minute)
	}
	// Cut just after the first alert of batches in which an incident
	// opened and merged once the batch ended.
	var cuts []int
	for _, d := range restoreContinuesExactly(t, occs, nil) {
		if !strings.Contains(d.Reason, "weighed again with the alerts that came with it") {
			continue
		}
		for i, o := range occs {
			if t0.Add(o.at).Equal(d.At) {
				if len(cuts) == 0 || cuts[len(cuts)-1] != i+1 {
					cuts = append(cuts, i+1)
				}
				break
			}
		}
	}
	if len(cuts) < 2 {
		t.Fatalf("incidents merged at the end of %d batches: the stream does not test settle", len(cuts))
	}
	restoreContinuesExactly(t, occs, cuts)
}

func restoreContinuesExactly(t *testing.T, occs []occ, cuts []int) []quell.Decision {
	whole := newRun(t, fastConfig(), topoForTests(t))
	whole.feed(0, occs...)
	whole.eng.Flush()

	for _, cut := range cuts {
		first := newRun(t, fastConfig(), topoForTests(t))
		first.feed(0, occs[:cut]...)
		second := newRun(t, fastConfig(), topoForTests(t))
		second.eng.Restore(throughJSON(t, first.eng.Snapshot()))
		second.feed(0, occs[cut:]...)
		second.eng.Flush()
		got := append(first.decisions, second.decisions...)
		if len(got) != len(whole.decisions) {
			t.Fatalf("cut at %d: %d decisions, want %d", cut, len(got), len(whole.decisions))
		}
		for i := range got {
			g, w := got[i], whole.decisions[i]
			if g.Incident != w.Incident || g.Action != w.Action || g.Reason != w.Reason || !g.At.Equal(w.At) {
				t.Fatalf("cut at %d: decision %d differs:\n got  %s %s %s\n want %s %s %s", cut, i, g.Action, g.Incident, g.Reason, w.Action, w.Incident, w.Reason)
			}
		}
		gotInc, wantInc := second.eng.Incidents(Query{}), whole.eng.Incidents(Query{})
		if len(gotInc) != len(wantInc) {
			t.Fatalf("cut at %d: %d incidents, want %d", cut, len(gotInc), len(wantInc))
		}
	}
	return whole.decisions
}

// throughJSON returns snap as a restart reads it back from its file.
func throughJSON(t *testing.T, snap Snapshot) Snapshot {
	t.Helper()
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestSnapshotIsACopy: embedded mode writes a snapshot while the engine
// goes on, so nothing in it may change with the engine afterwards.
func TestSnapshotIsACopy(t *testing.T) {
	occs := stream(12, 2000)
	r := newRun(t, fastConfig(), nil) // no topology: the graph is all learned
	r.feed(0, occs[:1000]...)
	snap := r.eng.Snapshot()
	before, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	r.feed(0, occs[1000:]...)
	after, _ := json.Marshal(snap)
	if string(before) != string(after) {
		t.Fatal("the snapshot changed as the engine went on: it shares state with the engine")
	}
}

// TestRestoredIncidentsHearAsLiveOnes: when an incident last heard of each
// value and node (what keeps them relating alerts, see heard) is rebuilt
// from its members on restore exactly as the live engine kept it, through
// joins, repeats, resolves and alerts moving out.
func TestRestoredIncidentsHearAsLiveOnes(t *testing.T) {
	occs := stream(11, 4000)
	r := newRun(t, fastConfig(), topoForTests(t))
	compared := 0
	for i := range occs {
		r.feed(0, occs[i])
		if i%500 == 499 {
			compared += sameHearing(t, r.eng, fastConfig(), topoForTests(t))
		}
	}
	// Errors moves out of shipping's incident, silent since 5m, at 10m;
	// its incident last heard of it at 5m, and of shipping at 9m.
	m := newRun(t, DefaultConfig(), nil)
	for at := time.Duration(0); at <= 5*time.Minute; at += time.Minute {
		m.fire(at, "alertname=Latency,service=shipping,pod=shipping-7d9f8b6c5-x2k4p")
		m.fire(at, "alertname=Errors,service=shipping,peer_service=payments")
	}
	m.fire(9*time.Minute, "alertname=Latency,service=shipping,pod=shipping-7d9f8b6c5-x2k4p")
	m.fire(9*time.Minute+30*time.Second, "alertname=CPUThrottling,service=shipping")
	m.fire(10*time.Minute, "alertname=Errors,service=shipping,peer_service=payments")
	if !strings.Contains(reasons(m.decisions), "moved from incident") {
		t.Fatalf("no alert moved: %s", reasons(m.decisions))
	}
	compared += sameHearing(t, m.eng, DefaultConfig(), nil)
	// A person moves out the alert heard last: its incident last heard of
	// shipping when the one left was last seen.
	p := newRun(t, DefaultConfig(), nil)
	p.fire(0, "alertname=Errors,service=shipping")
	latest := alert(occ{labels: "alertname=Latency,service=shipping"})
	p.fire(time.Minute, "alertname=Latency,service=shipping")
	if err := p.feedback(quell.Feedback{Action: quell.FeedbackMove, Alert: latest.Fingerprint, To: quell.MoveToNew, Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
	compared += sameHearing(t, p.eng, DefaultConfig(), nil)
	if compared == 0 {
		t.Fatal("no token compared")
	}
}

// sameHearing restores a snapshot of live into a new engine and checks that
// every incident heard of its tokens and nodes when live did; it returns
// how many tokens it compared.
func sameHearing(t *testing.T, live *Engine, cfg Config, topo *Topology) int {
	t.Helper()
	back := newRun(t, cfg, topo)
	back.eng.Restore(throughJSON(t, live.Snapshot()))
	compared := 0
	for id, inc := range live.incidents {
		got := back.eng.incidents[id]
		if got == nil {
			t.Fatalf("incident %s not restored", id)
		}
		for _, s := range inc.tokens.slots {
			if s.c != (tokenCount{}) {
				if g := got.tokens.find(s.t); g == nil || g.at != s.at {
					t.Fatalf("incident %s heard of token %x at %d, restored %+v", id, s.t, s.at, g)
				}
				compared++
			}
		}
		for n, u := range inc.nodes {
			if got.nodes[n] != u {
				t.Fatalf("incident %s node %d %+v, restored %+v", id, n, u, got.nodes[n])
			}
		}
	}
	return compared
}
