package pipeline

import (
	"bytes"
	"context"
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
// quell_evictions_total and in one log line per interval, not one each.
func TestEvictionsAreCountedAndLogged(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	set := NewSet(reg, slog.New(slog.NewTextHandler(&logs, nil)))
	cfg := correlate.DefaultConfig()
	cfg.MaxIncidents = 2
	p, err := set.New(0, cfg, nil, nil)
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
	if n := strings.Count(logs.String(), "evicts incidents"); n != 1 {
		t.Errorf("%d eviction log lines, want 1 for the interval:\n%s", n, logs.String())
	}
}
