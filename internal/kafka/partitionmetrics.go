package kafka

import "github.com/prometheus/client_golang/prometheus"

// partitionMetrics show a correlator's place in its group: the partitions
// it works on, how often the group gave it a new assignment, and how long
// taking a partition over (reading its state, rebuilding the engine) took.
type partitionMetrics struct {
	owned    prometheus.Gauge
	joins    prometheus.Counter
	restores prometheus.Histogram
}

func newPartitionMetrics(reg prometheus.Registerer) *partitionMetrics {
	m := &partitionMetrics{
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quell_kafka_partitions_owned",
			Help: "Partitions of the alerts topic this correlator works on (split mode).",
		}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quell_kafka_group_generations_total",
			Help: "Assignments this correlator got from its consumer group: one per rebalance it took part in, or per restart (split mode).",
		}),
		restores: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quell_kafka_partition_restore_seconds",
			Help:    "How long taking over a partition took: reading its state from the state topic and rebuilding the correlator from it (split mode).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.owned, m.joins, m.restores)
	}
	return m
}
