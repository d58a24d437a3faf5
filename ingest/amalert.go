package ingest

import (
	"slices"
	"time"

	"github.com/quellhq/quell"
)

// arenaGuess sizes the first alert's string arena: a typical Kubernetes
// alert's labels, annotations and URL come to about 1 KiB.
const arenaGuess = 1024

// amZeroTime is how Alertmanager writes "no end yet" for a firing alert.
const amZeroTime = "0001-01-01T00:00:00Z"

// amAlert holds the members of one Alertmanager alert object (webhook or v2
// postable) that need interpreting by the caller.
type amAlert struct {
	status           string
	startsAt, endsAt time.Time
}

// readAMAlert reads one Alertmanager alert object into a (labels,
// annotations, generatorURL, Raw and, from a webhook, the fingerprint) and
// returns what the caller must interpret. webhook says whether status and
// fingerprint are read: in v2 they are not part of a postable alert.
// prev, the alert before in the same batch or nil, sizes the allocations:
// alerts in one batch are alike.
func (s *scanner) readAMAlert(a *quell.Alert, webhook bool, prev *quell.Alert) (amAlert, error) {
	var r amAlert
	s.ws()
	start := s.i
	labelHint, arenaSize := 0, arenaGuess
	if prev != nil {
		// Decoded strings are no longer than their JSON, so one prior Raw's
		// length usually holds all of this alert's strings. The cap keeps an
		// outsized alert from inflating the next one's buffer.
		labelHint, arenaSize = len(prev.Labels), min(len(prev.Raw), 64<<10)
	}
	s.arena.reset(arenaSize)
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "labels":
			a.Labels, err = s.stringMap(labelHint, true)
		case "annotations":
			a.Annotations, err = s.stringMap(0, false)
		case "startsAt":
			r.startsAt, err = s.time()
		case "endsAt":
			r.endsAt, err = s.time()
		case "generatorURL":
			a.GeneratorURL, err = s.str()
		case "status":
			if !webhook {
				return s.skip()
			}
			r.status, err = s.status()
		case "fingerprint":
			if !webhook {
				return s.skip()
			}
			a.SourceFingerprint, err = s.str()
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	// Raw is copied so an alert does not pin the whole request body.
	a.Raw = append([]byte(nil), s.b[start:s.i]...)
	return r, nil
}

// stringMap reads an object of strings into a new map; null gives nil.
// labels says whether the label limits apply.
func (s *scanner) stringMap(hint int, labels bool) (map[string]string, error) {
	if s.null() {
		return nil, nil
	}
	m := make(map[string]string, hint)
	err := s.object(func(key []byte) error {
		if labels && s.lim.name > 0 && len(key) > s.lim.name {
			return s.lim.label(string(key), "", 0) // before the path would repeat the long name
		}
		if s.peek() != '"' {
			return at(string(key), s.want("a string"))
		}
		v, err := s.strBytes()
		if err != nil {
			return at(string(key), err)
		}
		k, val := s.arena.str(key), s.arena.str(v)
		m[k] = val
		if labels {
			if err := s.lim.label(k, val, len(m)); err != nil {
				return err
			}
		}
		return nil
	})
	return m, err
}

// time reads an RFC 3339 time as Alertmanager and Prometheus write it. An
// empty string and Alertmanager's year-1 "never" are the zero time.
func (s *scanner) time() (time.Time, error) {
	if s.peek() != '"' {
		return time.Time{}, s.want("an RFC 3339 time string")
	}
	b, err := s.strBytes()
	if err != nil || len(b) == 0 || string(b) == amZeroTime {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s.arena.str(b))
	if err != nil {
		return time.Time{}, problemf("%q is not an RFC 3339 time (like 2024-03-01T02:09:00.123Z)", b)
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	if t = t.UTC(); t.Year() < 0 || t.Year() > 9999 {
		// An offset can carry 9999-12-31 into year 10000, which JSON (and
		// so the bus and the state snapshot) cannot hold.
		return time.Time{}, problemf("%q is outside the years 0000–9999 in UTC", b)
	}
	return t, nil
}

// readAMAlerts reads an array of Alertmanager alert objects, calling finish
// on each; errors name the element's index.
func (s *scanner) readAMAlerts(webhook bool, finish func(*quell.Alert, amAlert) error, recall func(raw []byte, a *quell.Alert) bool) ([]quell.Alert, error) {
	var out []quell.Alert
	err := s.array(func(i int) error {
		if err := s.lim.alert(i); err != nil {
			return err
		}
		var prev *quell.Alert
		if i > 0 {
			prev = &out[i-1]
		}
		out = append(out, quell.Alert{})
		recalled := false
		if s.ws(); recall != nil && s.peek() == '{' {
			if end := objectEnd(s.b, s.i); end > 0 && recall(s.b[s.i:end], &out[i]) {
				s.i, recalled = end, true
			}
		}
		if !recalled {
			r, err := s.readAMAlert(&out[i], webhook, prev)
			if err == nil {
				err = finish(&out[i], r)
			}
			if err != nil {
				return atIndex("", i, err)
			}
		}
		if i == 0 {
			// Size the slice from the first alert instead of doubling; the
			// cap keeps a tiny first alert from reserving for millions.
			out = slices.Grow(out, min(len(s.b)/len(out[0].Raw), 1024))
		}
		return nil
	})
	return out, err
}

// finishAM sets what every Alertmanager-format alert gets, then validates.
func finishAM(a *quell.Alert, now time.Time) error {
	a.Source = SourceAlertmanager
	a.ReceivedAt = now
	a.Severity = severityOf(a.Labels["severity"])
	if !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return problemf("endsAt %s is before startsAt %s", a.EndsAt.Format(time.RFC3339Nano), a.StartsAt.Format(time.RFC3339Nano))
	}
	return a.Validate()
}

// status reads a webhook alert's status; the two expected words are
// constants, so they cost no allocation.
func (s *scanner) status() (string, error) {
	if s.peek() != '"' {
		return "", s.want("a string")
	}
	b, err := s.strBytes()
	switch string(b) {
	case string(quell.Firing):
		return string(quell.Firing), err
	case string(quell.Resolved):
		return string(quell.Resolved), err
	}
	return string(b), err
}

// statusOf checks a webhook alert's status.
func statusOf(v string) (quell.Status, error) {
	switch quell.Status(v) {
	case quell.Firing, quell.Resolved:
		return quell.Status(v), nil
	case "":
		return "", at("status", problemf("missing: want firing or resolved"))
	}
	return "", at("status", problemf("%q: want firing or resolved", v))
}
