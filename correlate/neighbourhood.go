package correlate

import (
	"cmp"
	"slices"
)

// Neighbourhood is the part of the service graph around an incident, for
// people to see: the nodes its alerts are about (Hops 0) and those within
// a few hops, with the edges among them.
type Neighbourhood struct {
	Nodes []GraphNode `json:"nodes"`
	Edges [][2]int    `json:"edges"` // indexes into Nodes
}

// GraphNode is one node of a neighbourhood.
type GraphNode struct {
	Name string `json:"name"`
	Hops int    `json:"hops"` // from the nearest of the incident's nodes
}

// Bounds of a neighbourhood: what a person can take in at a glance.
const (
	neighbourhoodHops  = 2
	neighbourhoodNodes = 60
)

// Neighbourhood returns the graph around incident id (false: not tracked).
func (e *Engine) Neighbourhood(id string) (Neighbourhood, bool) {
	inc := e.incidents[id]
	if inc == nil {
		return Neighbourhood{}, false
	}
	g := e.graph
	hops := map[int32]int{}
	var order []int32
	frontier := make([]int32, 0, len(inc.nodes))
	for n := range inc.nodes {
		frontier = append(frontier, n)
	}
	slices.Sort(frontier) // map order is random; the answer is not
	for _, n := range frontier {
		hops[n] = 0
		order = append(order, n)
	}
	for d := 1; d <= neighbourhoodHops && len(frontier) > 0; d++ {
		var next []int32
		for _, x := range frontier {
			if d > 1 && g.degree(x) > hubDegree {
				continue // a hub's neighbours would fill the picture
			}
			base, learned := g.neighbours(x)
			for _, y := range slices.Concat(base, learned) {
				if _, seen := hops[y]; !seen && len(order) < neighbourhoodNodes {
					hops[y] = d
					order = append(order, y)
					next = append(next, y)
				}
			}
		}
		frontier = next
	}
	nb := Neighbourhood{Nodes: make([]GraphNode, len(order)), Edges: [][2]int{}}
	at := make(map[int32]int, len(order))
	for i, n := range order {
		nb.Nodes[i] = GraphNode{Name: g.name(n), Hops: hops[n]}
		at[n] = i
	}
	for i, n := range order {
		base, learned := g.neighbours(n)
		for _, m := range slices.Concat(base, learned) {
			if j, ok := at[m]; ok && i < j {
				nb.Edges = append(nb.Edges, [2]int{i, j})
			}
		}
	}
	slices.SortFunc(nb.Edges, func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	nb.Edges = slices.Compact(nb.Edges)
	return nb, true
}
