package correlate

import (
	"maps"
	"slices"

	"github.com/quellhq/quell"
)

// makeGraphRoom compacts the learned graph once it is crowded (see
// graph.crowded): the nodes and edges no incident holds go, and what
// names the others by number (alerts, incidents, the scopes' index) names
// them by their new numbers. Without it, a graph at its bound learned
// nothing more: in a cluster whose pods and machines come and go, every
// workload and machine that came after had no node, however long the
// ones it had were gone.
//
// A restarted engine learns its graph again from the alerts its incidents
// hold; so that it goes on as this one does, the held alerts whose nodes
// or edges the full graph refused learn them now, in the order a restore
// goes through them, and the alerts no incident holds are worked out again
// when they come back, as a restarted engine, which keeps none of theirs,
// does. Called before an alert is placed, never while a state is restored.
func (e *Engine) makeGraphRoom() {
	if !e.graph.crowded() {
		return
	}
	to := e.graph.compact()
	partial := false
	for fp, in := range e.infos {
		lost := false
		for i, n := range in.nodes {
			m, ok := to(n)
			in.nodes[i], lost = m, lost || !ok
		}
		if in.host >= 0 {
			m, ok := to(in.host)
			in.host, lost = m, lost || !ok
		}
		if lost { // no incident holds it: what one holds stays
			delete(e.infos, fp)
			continue
		}
		partial = partial || in.partial
	}
	for _, inc := range e.incidents {
		inc.nodes = renumbered(inc.nodes, to)
		inc.hosts = renumbered(inc.hosts, to)
	}
	for _, sc := range e.scopes {
		sc.byNode = renumbered(sc.byNode, to)
	}
	if e.track != nil {
		e.track.graphCaptured = false // every node and edge record is written anew
	}

	if !partial {
		return
	}
	// As a restore goes: incidents in the order they were created, their
	// alerts in the order they joined, each alert learned once.
	incs := slices.Collect(maps.Values(e.incidents))
	slices.SortFunc(incs, func(a, b *incident) int {
		if before(a, b) {
			return -1
		}
		return 1
	})
	type had struct {
		nodes []int32
		host  int32
	}
	held := map[quell.Fingerprint]bool{}
	relearned := map[quell.Fingerprint]had{}
	for _, inc := range incs {
		for _, fp := range inc.order {
			in := e.infos[fp]
			if in == nil {
				continue
			}
			held[fp] = true
			h, ok := relearned[fp]
			if !ok {
				if !in.partial {
					continue
				}
				h = had{in.nodes, in.host}
				relearned[fp] = h
				in.nodes, in.host, in.partial = nil, -1, false
				e.graph.learn(memberAlert(inc.members[fp]), in, e.cfg.TopologyLabels)
			}
			// What it learned only adds to what it had: count the new.
			for _, n := range in.nodes {
				if !slices.Contains(h.nodes, n) {
					inc.indexNode(n, 1, e.graph)
				}
			}
			if h.host < 0 && in.host >= 0 {
				inc.indexHost(in.host, 1, e.graph)
			}
			inc.heard(in, inc.members[fp].LastSeen)
		}
	}
	for fp, in := range e.infos {
		if !held[fp] && in.partial {
			delete(e.infos, fp)
		}
	}
}

// renumbered is m with its keys numbered anew by to, without those to drops;
// nil stays nil.
func renumbered[V any](m map[int32]V, to func(int32) (int32, bool)) map[int32]V {
	if m == nil {
		return nil
	}
	out := make(map[int32]V, len(m))
	for n, v := range m {
		if k, ok := to(n); ok {
			out[k] = v
		}
	}
	return out
}
