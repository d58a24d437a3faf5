package correlate

import (
	"slices"
	"strings"

	"github.com/quellhq/quell"
)

// graph is an engine's service graph: the topology file's, if any, plus
// what the engine learns from its alerts: a failing call names its caller
// and callee (service, peer_service), and an alert about a workload that
// names its host or node puts the two side by side. Learned nodes and their
// edges are bounded (Config.MaxLearnedNodes); once the bound is reached,
// the nodes no incident holds make room (see compact).
type graph struct {
	base    *Topology // shared and read-only; may be nil
	ids     []string  // learned nodes, numbered after the base's
	host    []bool    // of each learned node: it was learned as a machine (see learn)
	refs    []int32   // of each learned node: the incidents that hold it (see ref)
	unrefd  int       // learned nodes no incident holds
	index   map[string]int32
	adj     map[int32][]int32 // learned edges, both directions
	edges   [][2]int32        // learned edges in the order learned (for snapshots)
	max     int
	maxHops int
	cache   map[int32]*reach // BFS from a node, dropped when an edge is learned
	// version counts what was learned (nodes, edges, hosts), so that a
	// checkpoint tells whether the graph changed without encoding it.
	version uint64
}

// reach is what lies within maxHops of a node: each node's distance and
// BFS parent, so that a path can be told as a reason.
type reach struct {
	dist   map[int32]uint8
	parent map[int32]int32
	order  []int32 // nearest first
}

// A node with more edges than this is a hub (a shared host, a gateway):
// paths do not run through it, or everything would be near everything.
const hubDegree = 32

// maxLearnedDegree bounds the learned edges of one node.
const maxLearnedDegree = 64

func newGraph(base *Topology, maxLearned, maxHops int) *graph {
	return &graph{base: base, index: map[string]int32{}, adj: map[int32][]int32{}, max: maxLearned, maxHops: maxHops,
		cache: map[int32]*reach{}}
}

func (g *graph) name(n int32) string {
	if b := g.base.Len(); int(n) < b {
		return g.base.ids[n]
	}
	return g.ids[int(n)-g.base.Len()]
}

// node finds the node an entity value names: in the topology file by the
// value, lowercased, without a port, or as a pod's workload; else a learned
// node, created if create and the bound allows.
func (g *graph) node(label, value string, create bool) (int32, bool) {
	v := strings.ToLower(stripPort(value))
	w := workload(label, v)
	if g.base != nil {
		for _, k := range []string{value, v, w} {
			if n, ok := g.base.index[k]; ok && k != "" {
				return n, true
			}
		}
	}
	if w != "" {
		v = w // pods of one workload are one learned node
	}
	if n, ok := g.index[v]; ok {
		return n, true
	}
	if !create || len(g.ids) >= g.max {
		return 0, false
	}
	n := int32(g.base.Len() + len(g.ids))
	v = strings.Clone(v) // a label value points into its alert's parse buffer, which a node outlives
	g.ids = append(g.ids, v)
	g.host = append(g.host, false)
	g.refs = append(g.refs, 0)
	g.unrefd++
	g.index[v] = n
	g.version++
	return n, true
}

// markHost notes that learned node n is a machine.
func (g *graph) markHost(n int32) {
	if i := int(n) - g.base.Len(); i >= 0 && !g.host[i] {
		g.host[i] = true
		g.version++
	}
}

// isHost tells whether n is a machine quell learned (named by a host or
// node label, or what an alert about a machine is about).
func (g *graph) isHost(n int32) bool {
	i := int(n) - g.base.Len()
	return i >= 0 && g.host[i]
}

// viaHost tells whether the path that r's BFS found from its root to m
// runs through a learned machine: the two ends are co-located, which is
// all that path says.
func (g *graph) viaHost(r *reach, m int32) bool {
	for m = r.parent[m]; r.parent[m] != m; m = r.parent[m] {
		if g.isHost(m) {
			return true
		}
	}
	return false
}

// learn finds the alert's nodes (its subject, and a failing call's peer) and
// learns the edges the alert tells of.
func (g *graph) learn(a *quell.Alert, in *alertInfo, topologyLabels []string) {
	subject := in.subject()
	if in.about == 0 || !contains(topologyLabels, subject.label) {
		return
	}
	learning := g.max > 0
	subj, ok := g.node(subject.label, subject.value, learning)
	if !ok {
		in.partial = learning
		return
	}
	in.nodes = append(in.nodes, subj)
	if in.infra {
		g.markHost(subj)
	}
	for _, c := range in.context() {
		if !contains(topologyLabels, c.label) {
			continue
		}
		switch {
		case c.label == "peer_service": // a call: caller and callee are neighbours
			peer, ok := g.node(c.label, c.value, learning)
			if ok {
				if !contains(in.nodes, peer) {
					in.nodes = append(in.nodes, peer)
				}
				ok = g.addEdge(subj, peer)
			}
			in.partial = in.partial || learning && !ok
		case !in.infra && (c.label == "host" || c.label == "node"): // a workload and where it runs
			host, ok := g.node(c.label, c.value, learning)
			if ok {
				g.markHost(host)
				ok = g.addEdge(subj, host)
				in.host = host
			}
			in.partial = in.partial || learning && !ok
		}
	}
}

// ref counts one more (delta 1) or one fewer (-1) incident holding node n;
// the topology file's nodes are not counted.
func (g *graph) ref(n int32, delta int32) {
	i := int(n) - g.base.Len()
	if i < 0 {
		return
	}
	if g.refs[i] == 0 {
		g.unrefd--
	}
	if g.refs[i] += delta; g.refs[i] == 0 {
		g.unrefd++
	}
}

// crowded tells whether the learned graph is full and at least half of it
// is nodes no incident holds: compacting it then makes room for that many
// new ones, so its cost, a walk over the engine's state (tens of
// milliseconds at the default bounds), is paid once per half of the bound
// learned.
func (g *graph) crowded() bool {
	return g.max > 0 && len(g.ids) >= g.max && g.unrefd >= max(1, g.max/2)
}

// compact drops the learned nodes no incident holds and the edges they
// are an end of, and numbers the others anew in the order they were
// learned, as restore would number them. It returns the new number of a
// node (the topology file's keep theirs); ok is false for one dropped.
func (g *graph) compact() func(n int32) (int32, bool) {
	b := int32(g.base.Len())
	renum := make([]int32, len(g.ids))
	ids, host, refs := g.ids[:0], g.host[:0], g.refs[:0]
	for i := range renum {
		if g.refs[i] == 0 {
			renum[i] = -1
			continue
		}
		renum[i] = b + int32(len(ids))
		ids, host, refs = append(ids, g.ids[i]), append(host, g.host[i]), append(refs, g.refs[i])
	}
	clear(g.ids[len(ids):]) // the names dropped
	g.ids, g.host, g.refs, g.unrefd = ids, host, refs, 0
	to := func(n int32) (int32, bool) {
		if n < b {
			return n, true
		}
		m := renum[n-b]
		return m, m >= 0
	}
	clear(g.index)
	for i, id := range ids {
		g.index[id] = b + int32(i)
	}
	// The adjacency lists again in the order the edges were learned, as
	// addEdge built them.
	clear(g.adj)
	edges := g.edges[:0]
	for _, ed := range g.edges {
		x, okX := to(ed[0])
		y, okY := to(ed[1])
		if okX && okY {
			edges = append(edges, [2]int32{x, y})
			g.adj[x] = append(g.adj[x], y)
			g.adj[y] = append(g.adj[y], x)
		}
	}
	g.edges = edges
	clear(g.cache)
	g.version++
	return to
}

func (g *graph) neighbours(n int32) (base, learned []int32) {
	if g.base != nil && int(n) < g.base.Len() {
		base = g.base.adj[n]
	}
	return base, g.adj[n]
}

func (g *graph) degree(n int32) int {
	b, l := g.neighbours(n)
	return len(b) + len(l)
}

func (g *graph) adjacent(a, b int32) bool {
	base, learned := g.neighbours(a)
	return contains(base, b) || contains(learned, b)
}

// addEdge learns an edge between a and b; false when the degree bound
// refused it.
func (g *graph) addEdge(a, b int32) bool {
	if a == b || g.max == 0 || g.adjacent(a, b) {
		return true
	}
	if len(g.adj[a]) >= maxLearnedDegree || len(g.adj[b]) >= maxLearnedDegree {
		return false
	}
	g.adj[a] = append(g.adj[a], b)
	g.adj[b] = append(g.adj[b], a)
	g.edges = append(g.edges, [2]int32{a, b})
	g.version++
	clear(g.cache)
	return true
}

// from returns what lies within maxHops of n (cached).
func (g *graph) from(n int32) *reach {
	if r := g.cache[n]; r != nil {
		return r
	}
	r := &reach{dist: map[int32]uint8{n: 0}, parent: map[int32]int32{n: n}, order: []int32{n}}
	frontier := []int32{n}
	for d := 1; d <= g.maxHops && len(frontier) > 0; d++ {
		var next []int32
		for _, x := range frontier {
			if x != n && g.degree(x) > hubDegree {
				continue
			}
			base, learned := g.neighbours(x)
			for _, list := range [2][]int32{base, learned} {
				for _, y := range list {
					if _, seen := r.dist[y]; !seen {
						r.dist[y] = uint8(d)
						r.parent[y] = x
						r.order = append(r.order, y)
						next = append(next, y)
					}
				}
			}
		}
		frontier = next
	}
	if len(g.cache) >= 4096 {
		clear(g.cache) // a bound, not an LRU: BFS is cheap to redo
	}
	g.cache[n] = r
	return r
}

// path tells the way from the root of r to m, e.g. "a -> b -> c".
func (g *graph) path(r *reach, m int32) string {
	var rev []string
	for {
		rev = append(rev, g.name(m))
		p := r.parent[m]
		if p == m {
			break
		}
		m = p
	}
	var sb strings.Builder
	for i := len(rev) - 1; i >= 0; i-- {
		sb.WriteString(rev[i])
		if i > 0 {
			sb.WriteString(" -> ")
		}
	}
	return sb.String()
}

// nearest finds the shortest distance from any of nodes to any node of
// the set, with the two ends; ok is false when none is within maxHops.
func (g *graph) nearest(nodes []int32, set map[int32]nodeUse, fresh int64) (d int, from int32, to int32, ok bool) {
	d = g.maxHops + 1
	for _, a := range nodes {
		if u, in := set[a]; in && u.at >= fresh {
			return 0, a, a, true
		}
		if g.degree(a) == 0 {
			continue // nothing near it
		}
		r := g.from(a)
		if len(set) < len(r.dist) {
			for b, u := range set {
				if x, in := r.dist[b]; in && u.at >= fresh && (int(x) < d || int(x) == d && b < to) {
					d, from, to, ok = int(x), a, b, true
				}
			}
		} else {
			for b, x := range r.dist {
				if u, in := set[b]; in && u.at >= fresh && (int(x) < d || int(x) == d && b < to) {
					d, from, to, ok = int(x), a, b, true
				}
			}
		}
	}
	return d, from, to, ok
}

// GraphState is what an engine learned of the graph, for snapshots: node
// names in the order learned, and edges between node names.
type GraphState struct {
	Nodes []string    `json:"nodes,omitempty"`
	Edges [][2]string `json:"edges,omitempty"`
	// Hosts are the learned nodes that are machines.
	Hosts []string `json:"hosts,omitempty"`
}

func (g *graph) state() GraphState {
	s := GraphState{Nodes: slices.Clone(g.ids)} // a copy: the state is written while the engine goes on
	for _, e := range g.edges {
		s.Edges = append(s.Edges, [2]string{g.name(e[0]), g.name(e[1])})
	}
	for i, h := range g.host {
		if h {
			s.Hosts = append(s.Hosts, g.ids[i])
		}
	}
	return s
}

func (g *graph) restore(s GraphState) {
	for _, n := range s.Nodes {
		g.node("", n, true)
	}
	for _, e := range s.Edges {
		a, okA := g.lookup(e[0])
		b, okB := g.lookup(e[1])
		if okA && okB {
			g.addEdge(a, b)
		}
	}
	for _, h := range s.Hosts {
		if n, ok := g.lookup(h); ok {
			g.markHost(n)
		}
	}
}

// lookup finds a node by its name as state() wrote it.
func (g *graph) lookup(name string) (int32, bool) {
	if g.base != nil {
		if n, ok := g.base.index[name]; ok {
			return n, true
		}
	}
	n, ok := g.index[name]
	return n, ok
}
