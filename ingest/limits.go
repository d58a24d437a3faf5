package ingest

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// limits bound one request's alerts and each alert's labels, annotations
// and times, as Config sets them; a zero field is unbounded (the exported
// parsers, for trusted input such as replay files). The parsers check the
// counts and labels while reading, so an oversized request is refused
// before it costs memory beyond its body; checkAlerts the rest.
type limits struct {
	alerts, labels, name, value int
	annValue, annAlert          int           // annotation bytes per value, and per alert (names and values)
	skew                        time.Duration // how far ahead of quell's clock startsAt may be
}

func (c Config) limits() limits {
	return limits{alerts: c.MaxAlertsPerRequest, labels: c.MaxLabelsPerAlert, name: c.MaxLabelNameBytes, value: c.MaxLabelValueBytes,
		annValue: c.MaxAnnotationValueBytes, annAlert: c.MaxAnnotationBytes, skew: c.MaxFutureSkew}
}

// maxEndsAhead bounds endsAt: Prometheus sets it minutes ahead, a year
// covers any resend schedule, and keeps times within nanosecond clocks.
const maxEndsAhead = 365 * 24 * time.Hour

// checkAlerts checks what the parsers do not while reading: annotations,
// which say what is wrong and are kept beside the labels, and times, which
// must lie between 1970 and a little ahead of quell's clock.
func (l limits) checkAlerts(alerts []quell.Alert, now time.Time) error {
	for i := range alerts {
		if err := l.checkAlert(&alerts[i], now); err != nil {
			return atIndex("alerts", i, err)
		}
	}
	return nil
}

func (l limits) checkAlert(a *quell.Alert, now time.Time) error {
	if err := l.checkAnnotations(a.Annotations); err != nil {
		return err
	}
	epoch := time.Unix(0, 0)
	for _, f := range []struct {
		name  string
		t     time.Time
		ahead time.Duration
	}{{"startsAt", a.StartsAt, l.skew}, {"endsAt", a.EndsAt, maxEndsAhead}} {
		switch {
		case f.t.IsZero():
		case f.t.Before(epoch):
			return at(f.name, errLimit(reasonTimeRange, "%s is before 1970", f.t.Format(time.RFC3339)))
		case l.skew > 0 && f.t.After(now.Add(f.ahead)):
			return at(f.name, errLimit(reasonTimeRange, "%s is more than %s ahead of quell's clock (%s)%s",
				f.t.Format(time.RFC3339), f.ahead, now.UTC().Format(time.RFC3339), skewHint(f.name)))
		}
	}
	return nil
}

// checkAnnotations: an alert over an annotation limit is told which
// annotation, the same one every time (in key order); one within them, most
// of them, is checked without sorting.
func (l limits) checkAnnotations(m map[string]string) error {
	total, over := 0, false
	for k, v := range m {
		total += len(k) + len(v)
		over = over || l.annValue > 0 && len(v) > l.annValue
	}
	if !over && (l.annAlert <= 0 || total <= l.annAlert) {
		return nil
	}
	total = 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		total += len(k) + len(v)
		switch {
		case l.annValue > 0 && len(v) > l.annValue:
			return at("annotations."+clip(k), errLimit(reasonAnnotationTooLarge, "value is %d bytes, more than ingest.max_annotation_value_bytes (%d): "+
				"link to long text (a runbook_url) instead, or raise the limit", len(v), l.annValue))
		case l.annAlert > 0 && total > l.annAlert:
			return at("annotations", errLimit(reasonAnnotationTooLarge, "more than %d bytes in all (ingest.max_annotation_bytes): "+
				"keep annotations short, or raise the limit", l.annAlert))
		}
	}
	return nil
}

func skewHint(field string) string {
	if field == "startsAt" {
		return ": check the sender's clock, or raise ingest.max_future_skew"
	}
	return ""
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
