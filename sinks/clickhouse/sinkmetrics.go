package clickhouse

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type sinkMetrics struct {
	rows         *prometheus.CounterVec
	errs         *prometheus.CounterVec
	buffered     prometheus.Gauge
	deadLettered *prometheus.CounterVec
}

// newSinkMetrics registers on reg; a nil reg keeps them unexported.
func newSinkMetrics(reg prometheus.Registerer) (*sinkMetrics, error) {
	m := &sinkMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_clickhouse_rows_written_total", Help: "Rows inserted into ClickHouse, by table.",
		}, []string{"table"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_clickhouse_insert_errors_total", Help: "Failed INSERTs, by table and kind (transient: retried; permanent: dead-lettered).",
		}, []string{"table", "kind"}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quell_clickhouse_buffered_rows", Help: "Decisions and incident changes queued for ClickHouse; Write blocks at clickhouse.max_buffered.",
		}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_clickhouse_dead_letters_total", Help: "Decisions and incident changes ClickHouse refused for good (see the dead-letter file), by kind.",
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rows, m.errs, m.buffered, m.deadLettered} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("clickhouse sink: registering metrics (is a second sink using the same registry?)"), err)
		}
	}
	return m, nil
}

// observe counts one insert attempt (Writer.observe).
func (m *sinkMetrics) observe(table string, rows int, err error) {
	switch {
	case err == nil:
		m.rows.WithLabelValues(table).Add(float64(rows))
	case IsPermanent(err) || !retryable(err):
		m.errs.WithLabelValues(table, "permanent").Inc()
	default:
		m.errs.WithLabelValues(table, "transient").Inc()
	}
}
