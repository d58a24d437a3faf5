package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/quellhq/quell"
)

// ParseSplunkWebhook reads the body of Splunk's webhook alert action (and of
// custom alert actions, which add configuration and server fields): the
// search's name and the first result row. search_name (as alertname), and the
// row's host, source and sourcetype are the labels. The row's fields go to
// annotations as "result.<field>", except empty ones and Splunk's internal
// "_" fields other than _raw and _time; the rest stay in Raw, the whole body
// (so does "configuration", which holds secrets such as integration keys).
// Severity is the row's "severity" field if a search sets one, else warning.
//
// Splunk never sends a resolve. The alert fires from the row's _time (epoch
// seconds), or now, and EndsAt is now plus resolveTimeout: as Alertmanager
// does for alerts without an end, it resolves unless Splunk fires again
// within the timeout. (Counting from _time instead would end alerts on old
// events before they are even received.)
func ParseSplunkWebhook(body []byte, now time.Time, resolveTimeout time.Duration) ([]quell.Alert, error) {
	return parseSplunkWebhook(body, now, resolveTimeout, limits{})
}

// parseSplunkWebhook is ParseSplunkWebhook within lim.
func parseSplunkWebhook(body []byte, now time.Time, resolveTimeout time.Duration, lim limits) ([]quell.Alert, error) {
	s := scanner{b: body}
	if k := kindOf(s.peek()); k != "" && k != "an object" {
		return nil, problemf("want a Splunk webhook alert action body (a JSON object), got %s%s", k, hint(body))
	}
	labels := map[string]string{}
	ann := map[string]string{}
	var severity, when string
	hasResult := false
	err := s.object(func(key []byte) error {
		switch k := string(key); k {
		case "search_name":
			if s.null() {
				return nil
			}
			if c := s.peek(); c != '"' && kindOf(c) != "" {
				return at(k, problemf("want a string or null, got %s", kindOf(c)))
			}
			v, err := s.str()
			if err != nil {
				return at(k, err)
			}
			putNonEmpty(labels, "alertname", v)
		case "sid", "results_link", "owner", "app", "server_host", "search_uri":
			v, _, err := s.scalar()
			if err != nil {
				return at(k, err)
			}
			putNonEmpty(ann, k, v)
		case "result":
			hasResult = true
			return at(k, s.object(func(key []byte) error {
				f := string(key)
				v, _, err := s.scalar()
				switch {
				case err != nil:
					return at(f, err)
				case f == "host" || f == "source" || f == "sourcetype":
					putNonEmpty(labels, f, v)
				case f == "severity":
					severity = v
				case f == "_time":
					when = v
				}
				if !strings.HasPrefix(f, "_") || f == "_raw" || f == "_time" {
					putNonEmpty(ann, "result."+f, v)
				}
				return nil
			}))
		default:
			return at(k, s.skip())
		}
		return nil
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, err
	}
	if !hasResult {
		return nil, problemf("no \"result\" object: not a Splunk webhook alert action body%s", hint(body))
	}
	a := quell.Alert{
		Source: SourceSplunk, Status: quell.Firing, Labels: labels, Annotations: ann,
		Severity: severityOf(severity), StartsAt: now, EndsAt: now.Add(resolveTimeout), ReceivedAt: now,
		Raw: append([]byte(nil), body...),
	}
	if when != "" {
		t, err := epochSeconds(when)
		if err != nil {
			return nil, at("result._time", err)
		}
		a.StartsAt = t
	}
	if a.EndsAt.Before(a.StartsAt) {
		a.EndsAt = a.StartsAt.Add(resolveTimeout)
	}
	if err := a.Validate(); err != nil {
		return nil, problemf("%v: a Splunk alert is identified by search_name and the result's host, source and sourcetype, and this body has none", err)
	}
	if err := lim.labelMap(labels); err != nil {
		return nil, err
	}
	return []quell.Alert{a}, nil
}

func putNonEmpty(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// epochSeconds reads Splunk's _time: epoch seconds, maybe with a fraction.
func epochSeconds(v string) (time.Time, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, problemf("%q is not an epoch time in seconds (like 1483557272.000)", v)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).Truncate(time.Millisecond).UTC(), nil
}
