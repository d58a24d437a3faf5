package ingest

import (
	"fmt"
	"maps"
	"slices"
)

// limits bound one request's alerts and each alert's labels, as Config sets
// them; a zero field is unbounded (the exported parsers, for trusted input
// such as replay files). The parsers check them while reading, so an
// oversized request is refused before it costs memory beyond its body.
type limits struct {
	alerts, labels, name, value int
}

func (c Config) limits() limits {
	return limits{alerts: c.MaxAlertsPerRequest, labels: c.MaxLabelsPerAlert, name: c.MaxLabelNameBytes, value: c.MaxLabelValueBytes}
}

// errLimit is a ParseError whose Limit is the metrics reason.
func errLimit(reason, format string, args ...any) error {
	return &ParseError{Msg: fmt.Sprintf(format, args...), Limit: reason}
}

// alert checks that an i-th alert (from 0) may still be read.
func (l limits) alert(i int) error {
	if l.alerts > 0 && i >= l.alerts {
		return errLimit(reasonTooManyAlerts, "more than %d alerts in one request (ingest.max_alerts_per_request): "+
			"send fewer per request (Alertmanager: max_alerts in the webhook_config) or raise the limit", l.alerts)
	}
	return nil
}

func (l limits) tooManyLabels() error {
	return errLimit(reasonTooManyLabels, "more than %d labels (ingest.max_labels_per_alert): "+
		"keep only the labels that identify the alert (move the rest to annotations) or raise the limit", l.labels)
}

// label checks one label of an alert that has n labels with it.
func (l limits) label(name, value string, n int) error {
	switch {
	case l.labels > 0 && n > l.labels:
		return l.tooManyLabels()
	case l.name > 0 && len(name) > l.name:
		return errLimit(reasonLabelTooLarge, "label name %q… is %d bytes, more than ingest.max_label_name_bytes (%d)",
			name[:min(len(name), 32)], len(name), l.name)
	case l.value > 0 && len(value) > l.value:
		return errLimit(reasonLabelTooLarge, "label %q: value is %d bytes, more than ingest.max_label_value_bytes (%d): "+
			"move long text to annotations or raise the limit", name, len(value), l.value)
	}
	return nil
}

// labelMap checks the labels of an alert built whole (Datadog, Splunk), in
// name order so the error is the same every time.
func (l limits) labelMap(m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := l.label(k, m[k], len(m)); err != nil {
			return err
		}
	}
	return nil
}
