package correlate

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// A learned graph at its bound makes room: the nodes no incident holds go
// with their edges, those an incident holds stay (renumbered, as a restore
// numbers them), a held alert whose node the full graph refused learns it,
// and entities seen later get nodes.
func TestLearnedGraphMakesRoom(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxLearnedNodes = 5
	r := newRun(t, cfg, nil)
	held := "alertname=Held,service=a2,peer_service=a3,host=h0"
	r.feed(0,
		occ{0, "alertname=Gone,service=a0,peer_service=a1", ""},
		occ{0, held, ""},
		occ{10 * time.Second, "alertname=Gone,service=a0,peer_service=a1", quell.Resolved},
		occ{time.Minute, "alertname=Late,service=c0", ""},
	)
	g := r.eng.graph
	if !slices.Equal(g.ids, []string{"a0", "a1", "a2", "a3", "h0"}) {
		t.Fatalf("learned %q, want a0 a1 a2 a3 h0 (the bound: c0 gets no node)", g.ids)
	}
	late := alert(occ{labels: "alertname=Late,service=c0"}).Fingerprint
	if in := r.eng.infos[late]; !in.partial || len(in.nodes) > 0 {
		t.Fatalf("the alert about c0 has nodes %v (partial: %v), want none, refused", in.nodes, in.partial)
	}
	// Gone's incident resolves and, its reopen window over, is forgotten.
	r.feed(0, occ{15 * time.Minute, held, ""})
	if g.unrefd != 2 || !g.crowded() {
		t.Fatalf("%d learned nodes no incident holds (crowded: %v), want a0 and a1", g.unrefd, g.crowded())
	}
	a := alert(occ{labels: "alertname=New,service=b0,peer_service=b1"})
	r.eng.Process(&a, t0.Add(15*time.Minute+time.Second))
	if !slices.Equal(g.ids, []string{"a2", "a3", "h0", "c0", "b0"}) {
		t.Fatalf("learned %q after making room, want a2 a3 h0 (held), c0 (held, refused before) and b0 (new; b1 does not fit)", g.ids)
	}
	names := func(ns []int32) []string {
		var out []string
		for _, n := range ns {
			out = append(out, g.name(n))
		}
		slices.Sort(out)
		return out
	}
	if in := r.eng.infos[a.Fingerprint]; !slices.Equal(names(in.nodes), []string{"b0"}) || !in.partial {
		t.Fatalf("the new alert is about nodes %q (partial: %v), want b0, b1 refused", names(in.nodes), in.partial)
	}
	var edges [][2]string
	for _, e := range g.edges {
		edges = append(edges, [2]string{g.name(e[0]), g.name(e[1])})
	}
	if !slices.Equal(edges, [][2]string{{"a2", "a3"}, {"a2", "h0"}}) {
		t.Fatalf("learned edges %q, want a2-a3 and a2-h0", edges)
	}
	incNodes := func(fp quell.Fingerprint) []string {
		var out []int32
		for n := range r.eng.incidentOf(fp).nodes {
			out = append(out, n)
		}
		return names(out)
	}
	heldFP := alert(occ{labels: held}).Fingerprint
	if got := incNodes(heldFP); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("the held incident is about nodes %q, want a2 a3", got)
	}
	if got := incNodes(late); !slices.Equal(got, []string{"c0"}) {
		t.Fatalf("the incident of the alert about c0 is about nodes %q, want c0", got)
	}
	inc := r.eng.incidentOf(late)
	if list := inc.scope.byNode[g.index["c0"]]; !slices.Contains(list, inc) {
		t.Fatal("the index does not find the incident of the alert about c0 by its node")
	}

	// A restarted engine learns what it restores as the live one did.
	next := newRun(t, cfg, nil)
	next.eng.Restore(r.eng.Snapshot())
	ng := next.eng.graph
	if !slices.Equal(ng.ids, g.ids) || !slices.Equal(ng.edges, g.edges) || !slices.Equal(ng.refs, g.refs) {
		t.Fatalf("restored graph %q %v refs %v, live %q %v refs %v", ng.ids, ng.edges, ng.refs, g.ids, g.edges, g.refs)
	}
}

// With the graph at a small bound, it fills and makes room again and again;
// each node's count is the incidents that hold it, the records still add up
// to the state, and engines restored from them decide as one that never
// stopped.
func TestLearnedGraphMakesRoomAcrossRestarts(t *testing.T) {
	streams := []struct {
		name  string
		bound int
		occs  []occ
	}{{"bursts", 6, bursts(21, 3000)}}
	for _, bound := range []int{4, 16} {
		for seed := uint64(1); seed <= 6; seed++ {
			streams = append(streams, struct {
				name  string
				bound int
				occs  []occ
			}{fmt.Sprintf("calls %d", seed), bound, calls(seed, 1500)})
		}
	}
	for _, st := range streams {
		t.Run(fmt.Sprintf("%s at %d", st.name, st.bound), func(t *testing.T) {
			cfg := changesConfig()
			cfg.MaxLearnedNodes = st.bound
			learned := map[string]bool{}
			changesAddUp(t, cfg, st.occs, func(e *Engine) {
				for _, id := range e.graph.ids {
					learned[id] = true
				}
				if got, want := e.graph.refs, heldBy(e); !slices.Equal(got, want) {
					t.Fatalf("learned nodes %q counted %v incidents holding them, where %v do", e.graph.ids, got, want)
				}
			})
			if len(learned) <= st.bound {
				t.Fatalf("%d nodes learned in all, at most %d at once: the graph never made room", len(learned), st.bound)
			}
		})
	}
}

// heldBy counts, for each learned node, the incidents whose members are
// about it or run on it.
func heldBy(e *Engine) []int32 {
	n := make([]int32, len(e.graph.ids))
	count := func(k int32) {
		if i := int(k) - e.graph.base.Len(); i >= 0 {
			n[i]++
		}
	}
	for _, inc := range e.incidents {
		for k := range inc.nodes {
			count(k)
		}
		for k := range inc.hosts {
			count(k)
		}
	}
	return n
}

// A restore that learns graph nodes its state did not hold (its alerts
// name them) writes them at the next checkpoint: records missing a node
// cannot be restored from.
func TestRelearnedGraphIsWritten(t *testing.T) {
	r := newRun(t, fastConfig(), nil)
	r.feed(0, occ{0, "alertname=A,service=a0,peer_service=a1", ""})
	snap := r.eng.Snapshot()
	snap.Learned.Graph = GraphState{}
	next := newRun(t, fastConfig(), nil)
	next.eng.Restore(snap)
	next.eng.TrackChanges()
	d, err := next.eng.Changes()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, rec := range records(t, d) {
		if rec.Key[0] == 'n' || rec.Key[0] == 'e' {
			keys = append(keys, rec.Key)
		}
	}
	if !slices.Equal(keys, []string{"n/0", "n/1", "e/0"}) {
		t.Fatalf("the first checkpoint wrote learned records %q, want the two nodes and the edge the restore learned", keys)
	}
}
