package clickhouse

import (
	"slices"
	"testing"
	"time"

	"github.com/quellhq/quell"
)

// TestInsertsCountRepeatsLean: a repeat that is only counted fills an
// insert by the few columns it carries, not by its whole alert. With a
// byte bound that lets three whole occurrences into one insert, a thousand
// such repeats go in one insert, stored occurrences three at a time, and
// repeats stored as rows (store_repeats) as the occurrences they then are.
func TestInsertsCountRepeatsLean(t *testing.T) {
	alert := quell.Alert{Source: "alertmanager", Status: quell.Firing, Labels: map[string]string{"alertname": "DiskFull"}, Raw: make([]byte, 100_000)}
	size := int64((&quell.Decision{Alert: alert}).Size())
	for _, tc := range []struct {
		name   string
		action quell.Action
		store  bool
		want   int
	}{
		{"repeats", quell.ActionDeduplicated, false, 1000},
		{"occurrences", quell.ActionJoined, false, 3},
		{"stored repeats", quell.ActionDeduplicated, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Sink{cfg: SinkConfig{BatchSize: 10_000, BatchAge: time.Second, MaxBuffered: 10_000, MaxBufferedBytes: 4 * 3 * size, StoreRepeats: tc.store},
				changed: make(chan struct{}), oldest: time.Now().Add(-time.Minute)}
			s.decisions, s.repeats = lean(slices.Repeat([]quell.Decision{{Alert: alert, Action: tc.action}}, 1000), tc.store)
			ds, rs, _, ok := s.next()
			if n := len(ds) + len(rs); !ok || n != tc.want {
				t.Errorf("the next insert takes %d of 1,000 (ok %v); want %d", n, ok, tc.want)
			}
		})
	}
}
