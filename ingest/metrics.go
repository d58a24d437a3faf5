package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a request is rejected, the "reason" label of
// quell_ingest_requests_rejected_total.
const (
	reasonMethod   = "method_not_allowed"
	reasonTooLarge = "too_large"
	reasonRead     = "read_error"
	reasonSlow     = "slow_body"
	reasonSyntax   = "malformed_json"
	reasonInvalid  = "invalid"
	reasonPublish  = "publish_failed"
	reasonMemory   = "memory"
	reasonBehind   = "behind"

	reasonUnauthorized  = "unauthorized"
	reasonOverloaded    = "overloaded"
	reasonRateLimited   = "rate_limited"
	reasonTooManyAlerts = "too_many_alerts"
	reasonTooManyLabels = "too_many_labels"
	reasonLabelTooLarge = "label_too_large"

	reasonAnnotationTooLarge = "annotation_too_large"
	reasonAlertTooLarge      = "alert_too_large"
	reasonTimeRange          = "time_out_of_range"
)

type metrics struct {
	accepted *prometheus.CounterVec
	recalled prometheus.Counter
	rejected *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers on reg; a nil reg keeps them unexported.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_ingest_alerts_accepted_total",
			Help: "Alerts accepted onto the bus, by ingest format (alertmanager, alertmanager_v2, datadog, splunk).",
		}, []string{"source"}),
		recalled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quell_ingest_alerts_recalled_total",
			Help: "Alertmanager webhook alerts that came byte for byte as one parsed lately and were copied from it instead of parsed (of those accepted).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quell_ingest_requests_rejected_total",
			Help: "Ingest requests answered with an error, by ingest format and reason (unauthorized, rate_limited, overloaded, too_large, malformed_json, invalid, too_many_alerts, too_many_labels, label_too_large, annotation_too_large, alert_too_large, time_out_of_range, publish_failed, memory, read_error, slow_body, method_not_allowed).",
		}, []string{"source", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quell_ingest_request_duration_seconds",
			Help:    "Time from request to answer, publishing included, by ingest format.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms to 16s
		}, []string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.accepted, m.recalled, m.rejected, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("ingest: registering metrics (is a second ingest handler using the same registry?)"), err)
		}
	}
	return m, nil
}
