package ingest

import (
	"time"

	"github.com/quellhq/quell"
)

// ParseAlertsV2 reads Prometheus/Alertmanager v2 postable alerts (the body
// Prometheus sends to an Alertmanager: a JSON array of {labels, annotations,
// startsAt, endsAt, generatorURL}). As in Alertmanager, an alert fires while
// endsAt is unset or later than now and is resolved otherwise; a missing
// startsAt is now (or endsAt, if that is earlier). Fingerprint is left for
// the caller (see Handler).
func ParseAlertsV2(body []byte, now time.Time) ([]quell.Alert, error) {
	return parseAlertsV2(body, now, limits{}, 0)
}

// parseAlertsV2 is ParseAlertsV2 within lim. With a resolveTimeout, a
// firing alert without endsAt ends that long after now unless posted
// again, as Alertmanager's resolve_timeout has it.
func parseAlertsV2(body []byte, now time.Time, lim limits, resolveTimeout time.Duration) ([]quell.Alert, error) {
	s := scanner{b: body, lim: lim}
	if k := kindOf(s.peek()); k != "" && k != "an array" {
		return nil, problemf("want a JSON array of alerts (Prometheus/Alertmanager v2 postable alerts), got %s%s", k, hint(body))
	}
	out, err := s.readAMAlerts(false, func(a *quell.Alert, r amAlert) error {
		if r.endsAt.IsZero() && resolveTimeout > 0 {
			from := now
			if r.startsAt.After(now) { // from its start when that lies ahead
				from = r.startsAt
			}
			r.endsAt = from.Add(resolveTimeout)
		}
		return postableAlert(a, r, now)
	}, nil)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func postableAlert(a *quell.Alert, r amAlert, now time.Time) error {
	a.StartsAt, a.EndsAt = r.startsAt, r.endsAt
	if a.StartsAt.IsZero() {
		a.StartsAt = now
		if !a.EndsAt.IsZero() && a.EndsAt.Before(now) {
			a.StartsAt = a.EndsAt
		}
	}
	a.Status = quell.Firing
	if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
		a.Status = quell.Resolved
	}
	return finishAM(a, now)
}
