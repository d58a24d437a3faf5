package correlate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Topology is a service graph from a file. It is read-only once parsed, so
// engines (one per partition) share it; each adds what it learns on top
// (see graph). Edges count in both directions: a failing dependency and its
// caller are near each other whichever way the edge was drawn.
type Topology struct {
	ids   []string
	index map[string]int32 // by id, and by id lowercased
	adj   [][]int32
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
	t := &Topology{index: make(map[string]int32)}
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
		if a != b && !contains(t.adj[a], b) {
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
	if _, ok := t.index[strings.ToLower(id)]; !ok {
		t.index[strings.ToLower(id)] = n
	}
	t.adj = append(t.adj, nil)
	return n
}

// Len is the number of nodes.
func (t *Topology) Len() int {
	if t == nil {
		return 0
	}
	return len(t.ids)
}
