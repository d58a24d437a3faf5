package ingest

import (
	"time"

	"github.com/quellhq/quell"
)

// ParseAlertmanagerWebhook reads an Alertmanager webhook_config message
// (version 4, the older shape without truncatedAlerts, version "1", and
// Grafana Alerting's webhook, which has the same alerts array) into one alert
// per element of "alerts". Alertmanager's own fingerprint is kept as
// SourceFingerprint; a firing alert's year-1 endsAt becomes the zero time.
// Each alert's Raw is its element of the array. Fingerprint is left for the
// caller (see Handler).
func ParseAlertmanagerWebhook(body []byte, now time.Time) ([]quell.Alert, error) {
	return parseAlertmanagerWebhook(body, now, limits{}, nil)
}

// parseAlertmanagerWebhook is ParseAlertmanagerWebhook within lim.
// recent, when not nil, gives the alerts it recalls without parsing them
// (see recentAlerts).
func parseAlertmanagerWebhook(body []byte, now time.Time, lim limits, recent *recentAlerts) ([]quell.Alert, error) {
	s := scanner{b: body, lim: lim}
	if k := kindOf(s.peek()); k != "" && k != "an object" {
		return nil, problemf("want an Alertmanager webhook message (a JSON object with an \"alerts\" array), got %s%s", k, hint(body))
	}
	var out []quell.Alert
	seen := false
	err := s.object(func(key []byte) error {
		if string(key) != "alerts" {
			return s.skip()
		}
		seen = true // a repeated key replaces, as in encoding/json
		var err error
		var recall func([]byte, *quell.Alert) bool
		if recent != nil {
			recall = func(raw []byte, a *quell.Alert) bool {
				if !recent.get(raw, a) {
					return false
				}
				a.ReceivedAt = now
				return true
			}
		}
		out, err = s.readAMAlerts(true, func(a *quell.Alert, r amAlert) error { return webhookAlert(a, r, now) }, recall)
		if err != nil {
			return at("alerts", err)
		}
		return nil
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, err
	}
	if !seen {
		return nil, problemf("no \"alerts\" array: not an Alertmanager webhook message%s", hint(body))
	}
	return out, nil
}

func webhookAlert(a *quell.Alert, r amAlert, now time.Time) error {
	var err error
	if a.Status, err = statusOf(r.status); err != nil {
		return err
	}
	a.StartsAt, a.EndsAt = r.startsAt, r.endsAt
	if a.StartsAt.IsZero() {
		a.StartsAt = now
	}
	return finishAM(a, now)
}
