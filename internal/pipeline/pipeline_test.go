package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
)

// TestEvictionsAreCountedAndLogged: incidents dropped at the bound show in
// quell_evictions_total and in one log line per interval, not one each,
// which names the bound that was passed.
func TestEvictionsAreCountedAndLogged(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	set := NewSet(reg, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	cfg := correlate.DefaultConfig()
	cfg.MaxIncidents = 2
	p, err := set.New(0, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Fingerprint: quell.Fingerprint(i + 1), StartsAt: at, ReceivedAt: at.Add(time.Duration(i) * time.Second),
			Labels: map[string]string{"alertname": fmt.Sprintf("Unrelated%d", i), "service": fmt.Sprintf("svc%d", i)}}
		if err := p.Handle(context.Background(), []quell.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	evicted := 0.0
	for _, f := range families {
		if f.GetName() == "quell_evictions_total" {
			for _, m := range f.GetMetric() {
				evicted += m.GetCounter().GetValue()
			}
		}
	}
	if evicted != 3 {
		t.Errorf("quell_evictions_total = %v, want 3 (5 unrelated incidents, bound 2)", evicted)
	}
	if n := strings.Count(logs.String(), "evicts incidents"); n != 1 || !strings.Contains(logs.String(), "(correlate.max_incidents, max_tracked_alerts)") {
		t.Errorf("%d eviction log lines, want 1 for the interval, naming the bound it keeps to:\n%s", n, logs.String())
	}
}

// TestTopologyWaitsForTheCheckpoint: with changes tracked (split mode), a
// new topology takes effect at the next Changes, not before, and the
// records written across the switch still add up to the state.
func TestTopologyWaitsForTheCheckpoint(t *testing.T) {
	parse := func(edges string) *correlate.Topology {
		topo, err := correlate.ParseTopology(strings.NewReader(`{"nodes":[{"id":"shop"},{"id":"pay"},{"id":"web"},{"id":"api"}],"edges":[` + edges + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	set := NewSet(prometheus.NewRegistry(), slog.New(slog.DiscardHandler), parse(""))
	p, err := set.New(0, correlate.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.TrackChanges()
	state := map[string][]byte{}
	checkpoint := func() {
		d, err := p.Changes()
		if err != nil {
			t.Fatal(err)
		}
		d.Each(func(r correlate.Record) error {
			if r.Value == nil {
				delete(state, r.Key)
			} else {
				state[r.Key] = bytes.Clone(r.Value)
			}
			return nil
		})
	}
	t0 := time.Unix(1_700_000_000, 0)
	n := 0
	// decide decides an alert A<n> on service at t0+at.
	decide := func(service string, at time.Duration) {
		n++
		a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Fingerprint: quell.Fingerprint(n), StartsAt: t0.Add(at), ReceivedAt: t0.Add(at),
			Labels: map[string]string{"alertname": fmt.Sprintf("A%d", n), "service": service}}
		if err := p.Handle(context.Background(), []quell.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	byAlert := func(name string) string {
		for _, inc := range p.Snapshot().Incidents {
			for _, m := range inc.Alerts {
				if m.Labels["alertname"] == name {
					return inc.ID
				}
			}
		}
		return ""
	}
	// 45 s apart, at the default time scale of 30 s: one hop joins, no
	// path does not.
	decide("shop", 0)
	checkpoint()
	if err := set.SetTopology(parse(`{"source":"shop","target":"pay"},{"source":"web","target":"api"}`)); err != nil {
		t.Fatal(err)
	}
	decide("pay", 45*time.Second)
	if byAlert("A1") == byAlert("A2") {
		t.Fatal("the new topology joined shop and pay before the checkpoint")
	}
	checkpoint()
	decide("web", 100*time.Second)
	decide("api", 145*time.Second)
	if byAlert("A3") != byAlert("A4") {
		t.Fatal("after the checkpoint the new topology does not join web and api")
	}
	checkpoint()
	restored, err := correlate.FromRecords(state)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(p.Snapshot())
	got, _ := json.Marshal(restored)
	if !bytes.Equal(got, want) {
		t.Fatalf("the records written across the switch restore\n%s\nwant\n%s", got, want)
	}
}

// TestRemovedPartitionGivesBackItsBytes: the pipelines of a Set share one
// StateBudget (split mode's partitions); one removed, or replaced under
// its key, leaves the count with what it held.
func TestRemovedPartitionGivesBackItsBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), nil)
	// quell_state_bytes shows what the partitions' engines hold.
	gauge := func() int64 { return int64(gaugeValue(t, reg, "quell_state_bytes")) }
	cfg := correlate.DefaultConfig()
	cfg.MaxStateBytes = 1 << 20
	cfg.StateBudget = &correlate.StateBudget{}
	at := time.Unix(1_700_000_000, 0)
	feed := func(p *Pipeline, n int) {
		for i := range n {
			a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Fingerprint: quell.Fingerprint(n*100 + i + 1), StartsAt: at, ReceivedAt: at,
				Labels: map[string]string{"alertname": fmt.Sprintf("A%d", i), "service": fmt.Sprintf("svc%d", n)}}
			if err := p.Handle(context.Background(), []quell.Alert{a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var ps []*Pipeline
	for key, n := range []int{3, 5, 7} {
		p, err := set.New(key, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		feed(p, n)
		ps = append(ps, p)
	}
	three := cfg.StateBudget.Held()
	if g := gauge(); g != three {
		t.Errorf("quell_state_bytes = %d, the budget holds %d", g, three)
	}
	set.Remove(0, ps[0])
	two := cfg.StateBudget.Held()
	if g := gauge(); g != two {
		t.Errorf("after a removal quell_state_bytes = %d, the budget holds %d", g, two)
	}
	if two <= 0 || two >= three {
		t.Fatalf("after removing a partition the budget counts %d bytes, before %d", two, three)
	}
	if _, err := set.New(1, cfg, nil); err != nil { // partition 1 again, afresh
		t.Fatal(err)
	}
	one := cfg.StateBudget.Held()
	set.Remove(2, ps[2])
	if one <= 0 || one >= two || cfg.StateBudget.Held() != 0 {
		t.Fatalf("the budget counts %d bytes with partitions 1 (new) and 2, %d with partition 1 (new), want 0 there", one, cfg.StateBudget.Held())
	}
}

// TestLearnedGauges: quell_learned_graph_nodes and quell_cofiring_pairs show
// what the partitions' engines learned, the nodes stopping at each engine's
// max_learned_nodes.
func TestLearnedGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	set := NewSet(reg, slog.New(slog.DiscardHandler), nil)
	gauge := func(name string) int { return int(gaugeValue(t, reg, name)) }
	cfg := correlate.DefaultConfig()
	cfg.MaxLearnedNodes = 5
	at := time.Unix(1_700_000_000, 0)
	for key := range 2 {
		p, err := set.New(key, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 { // calls between ever more services: 7 nodes a partition, past the bound
			a := quell.Alert{Source: "alertmanager", Status: quell.Firing, Fingerprint: quell.Fingerprint(key*100 + i + 1), StartsAt: at, ReceivedAt: at.Add(time.Duration(i) * time.Second),
				Labels: map[string]string{"alertname": "CallErrors", "service": fmt.Sprintf("svc%d", i), "peer_service": fmt.Sprintf("svc%d", i+1)}}
			if err := p.Handle(context.Background(), []quell.Alert{a}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := gauge("quell_learned_graph_nodes"); n != 2*cfg.MaxLearnedNodes {
		t.Errorf("quell_learned_graph_nodes = %d, want %d (two partitions at their bound)", n, 2*cfg.MaxLearnedNodes)
	}
	if n, want := gauge("quell_cofiring_pairs"), set.LearnedCounts().Pairs; n == 0 || n != want {
		t.Errorf("quell_cofiring_pairs = %d, the engines hold %d", n, want)
	}
}

// gaugeValue is the value of the gauge reg gathers under name.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
