package correlate

import (
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strings"
)

// Topology is a service graph: alerts map to its nodes through their labels,
// and alerts on nodes a few hops apart may join one incident. Edges count in
// both directions: a failing dependency and its caller are near each other
// whichever way the edge was drawn.
type Topology struct {
	ids   []string
	index map[string]int32
	adj   [][]int32
	// balls caches, per node and hop limit, the BFS tree within that limit.
	balls map[ballKey]*ball
}

type ballKey struct {
	node int32
	hops int
}

// ball is the set of nodes within some hops of a root, as a bitset, with
// each node's BFS parent so a path can be told as a reason.
type ball struct {
	set    bitset
	parent map[int32]int32
}

type topologyFile struct {
	Nodes []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"nodes"`
	Edges []struct {
		Source string `json:"source"`
		Target string `json:"target"`
		Label  string `json:"label"`
	} `json:"edges"`
}

// LoadTopology reads a topology file ({"nodes":[{"id","type"}],"edges":[{"source","target","label"}]}).
func LoadTopology(path string) (*Topology, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	defer f.Close()
	t, err := ParseTopology(f)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}

// ParseTopology decodes a topology. Edges may name nodes missing from the
// node list; they are added, since many exporters only write edges.
func ParseTopology(r io.Reader) (*Topology, error) {
	var tf topologyFile
	dec := json.NewDecoder(r)
	if err := dec.Decode(&tf); err != nil {
		return nil, fmt.Errorf("want {\"nodes\":[{\"id\",\"type\"}],\"edges\":[{\"source\",\"target\",\"label\"}]}: %w", err)
	}
	t := &Topology{index: make(map[string]int32), balls: make(map[ballKey]*ball)}
	for i, n := range tf.Nodes {
		if n.ID == "" {
			return nil, fmt.Errorf("nodes[%d]: empty id", i)
		}
		t.add(n.ID)
	}
	for i, e := range tf.Edges {
		if e.Source == "" || e.Target == "" {
			return nil, fmt.Errorf("edges[%d]: source and target are required", i)
		}
		a, b := t.add(e.Source), t.add(e.Target)
		if a != b {
			t.adj[a] = append(t.adj[a], b)
			t.adj[b] = append(t.adj[b], a)
		}
	}
	return t, nil
}

func (t *Topology) add(id string) int32 {
	if n, ok := t.index[id]; ok {
		return n
	}
	n := int32(len(t.ids))
	t.ids = append(t.ids, id)
	t.index[id] = n
	t.adj = append(t.adj, nil)
	return n
}

// Len is the number of nodes.
func (t *Topology) Len() int { return len(t.ids) }

// Node finds the node named by a label value. A value such as "host:9100"
// (Prometheus' instance) also matches the node "host".
func (t *Topology) Node(value string) (int32, bool) {
	if n, ok := t.index[value]; ok {
		return n, true
	}
	if v := entity(value); v != value {
		n, ok := t.index[v]
		return n, ok
	}
	return 0, false
}

// ball returns the nodes within hops of n.
func (t *Topology) ball(n int32, hops int) *ball {
	k := ballKey{n, hops}
	if b := t.balls[k]; b != nil {
		return b
	}
	b := &ball{set: newBitset(len(t.ids)), parent: map[int32]int32{n: n}}
	b.set.add(n)
	frontier := []int32{n}
	for d := 0; d < hops && len(frontier) > 0; d++ {
		var next []int32
		for _, x := range frontier {
			for _, y := range t.adj[x] {
				if _, seen := b.parent[y]; !seen {
					b.parent[y] = x
					b.set.add(y)
					next = append(next, y)
				}
			}
		}
		frontier = next
	}
	t.balls[k] = b
	return b
}

// path tells the way from the root of b to node m, e.g. "a -> b -> c".
func (t *Topology) path(b *ball, m int32) string {
	var rev []string
	for {
		rev = append(rev, t.ids[m])
		p := b.parent[m]
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

// bitset is a set of node indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (s bitset) add(i int32)      { s[i>>6] |= 1 << (uint(i) & 63) }
func (s bitset) has(i int32) bool { return s[i>>6]&(1<<(uint(i)&63)) != 0 }

// first returns the lowest index in both s and o, or -1.
func (s bitset) first(o bitset) int32 {
	for w := range s {
		if x := s[w] & o[w]; x != 0 {
			return int32(w*64 + bits.TrailingZeros64(x))
		}
	}
	return -1
}
