package correlate

import (
	"strings"
	"testing"
)

func TestNeighbourhood(t *testing.T) {
	topo, err := ParseTopology(strings.NewReader(`{"nodes":[{"id":"web"},{"id":"api"},{"id":"db"},{"id":"cache"},{"id":"far"}],
		"edges":[{"source":"web","target":"api"},{"source":"api","target":"db"},{"source":"db","target":"far"},{"source":"api","target":"cache"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	r := newRun(t, cfg, topo)
	id := r.feed(cfg.GroupWait, occ{0, "alertname=HighLatency,service=web", ""})[0].Incident
	nb, ok := r.eng.Neighbourhood(id)
	if !ok {
		t.Fatal("no neighbourhood for an open incident")
	}
	got := map[string]int{}
	for _, n := range nb.Nodes {
		got[n.Name] = n.Hops
	}
	if len(got) != 4 || got["web"] != 0 || got["api"] != 1 || got["db"] != 2 || got["cache"] != 2 {
		t.Fatalf("nodes %v; want web 0, api 1, db and cache 2, not far (3 hops)", got)
	}
	if len(nb.Edges) != 3 {
		t.Fatalf("edges %v, want web-api, api-db, api-cache", nb.Edges)
	}
	if _, ok := r.eng.Neighbourhood("nosuch"); ok {
		t.Fatal("a neighbourhood for an unknown incident")
	}
}
