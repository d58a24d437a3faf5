package ingest

import (
	"bytes"
	"strings"

	"github.com/quellhq/quell"
)

// AppendAlertRecord appends a as quell writes it to Kafka and its journal:
// its JSON without the raw payload, a newline, then the raw payload as the
// source sent it. Compact JSON holds no newline, so the first one splits the
// two unambiguously, and the raw payload, parsed once on the way in, is
// neither re-validated nor re-encoded.
func AppendAlertRecord(b []byte, a *quell.Alert) []byte {
	b = a.AppendJSON(b, false)
	if len(a.Raw) > 0 {
		b = append(append(b, '\n'), a.Raw...)
	}
	return b
}

// AppendLeanRecord appends a as AppendAlertRecord does, except that an
// alert in Alertmanager's format leaves out of its JSON what its raw payload
// holds (labels, annotations, generatorURL), which ParseAlertRecord reads
// from there: the journal's records, written for every alert accepted and
// read only to recover, take about half the bytes and half the encoding.
// Kafka's records stay whole, for correlators that read only those.
func AppendLeanRecord(b []byte, a *quell.Alert) []byte {
	if a.Source != SourceAlertmanager || len(a.Raw) == 0 {
		return AppendAlertRecord(b, a)
	}
	lean := *a // "labels":null marks the record lean
	lean.Labels, lean.Annotations, lean.GeneratorURL = nil, nil, ""
	return AppendAlertRecord(b, &lean)
}

// ParseAlertRecord reads one alert as quell itself writes it: the JSON of a
// quell.Alert, with its raw payload either inside ("raw") or after the first
// newline (the records of Kafka's alerts topic), or a lean record (see
// AppendLeanRecord). The correlator reads every
// alert ingest publishes, so it uses the same scanner as ingest's parsers
// rather than encoding/json, which spent most of its CPU. The caller
// validates the alert (quell.Alert.Validate).
func ParseAlertRecord(b []byte) (quell.Alert, error) {
	var a quell.Alert
	var raw []byte
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b, raw = b[:i], b[i+1:]
	}
	if err := readRecord(b, "a quell alert", func(s *scanner) error { return s.alertRecord(&a) }); err != nil {
		return a, err
	}
	if raw != nil {
		if err := readRaw(&a, raw); err != nil {
			return a, problemf("the raw payload after the alert: %v", err)
		}
		a.Raw = bytes.Clone(raw)
	}
	return a, nil
}

// alertRecord reads the object of a quell.Alert as AppendJSON writes it.
func (s *scanner) alertRecord(a *quell.Alert) error {
	return s.object(func(key []byte) error {
		var err error
		var v string
		switch string(key) {
		case "source":
			a.Source, err = s.str()
		case "status":
			v, err = s.str()
			a.Status = quell.Status(v)
		case "severity":
			v, err = s.str()
			a.Severity = quell.Severity(v)
		case "labels":
			a.Labels, err = s.stringMap(0, false)
		case "annotations":
			a.Annotations, err = s.stringMap(0, false)
		case "startsAt":
			a.StartsAt, err = s.time()
		case "endsAt":
			a.EndsAt, err = s.time()
		case "receivedAt":
			a.ReceivedAt, err = s.time()
		case "fingerprint":
			if v, err = s.str(); err == nil {
				err = a.Fingerprint.UnmarshalText([]byte(v))
			}
		case "generatorURL":
			a.GeneratorURL, err = s.str()
		case "sourceFingerprint":
			a.SourceFingerprint, err = s.str()
		case "raw":
			s.ws()
			start := s.i
			if err = s.skip(); err == nil {
				a.Raw = bytes.Clone(s.b[start:s.i])
			}
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}

// ParseDecisionRecord reads one decision as quell writes it to Kafka
// (quell.Decision.AppendJSON). A sink reads every decision the correlator
// makes, so it uses the scanner, as the correlator does for alerts: with
// encoding/json, decoding took most of a sink's CPU.
func ParseDecisionRecord(b []byte) (quell.Decision, error) {
	var d quell.Decision
	err := readRecord(b, "a quell decision", func(s *scanner) error { return s.decisionRecord(&d) })
	return d, err
}

// decisionRecord reads the object of a quell.Decision as AppendJSON writes it.
func (s *scanner) decisionRecord(d *quell.Decision) error {
	return s.object(func(key []byte) error {
		var err error
		var v string
		switch string(key) {
		case "alert":
			err = s.alertRecord(&d.Alert)
		case "incident":
			d.Incident, err = s.str()
		case "action":
			v, err = s.str()
			d.Action = quell.Action(v)
		case "reason":
			d.Reason, err = s.str()
		case "at":
			d.At, err = s.time()
		case "actor":
			d.Actor, err = s.str()
		case "via":
			d.Via, err = s.str()
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}

// readRecord reads b, one JSON object of what with read and nothing after it,
// its strings from one arena.
func readRecord(b []byte, what string, read func(s *scanner) error) error {
	s := scanner{b: b}
	if k := kindOf(s.peek()); k != "an object" {
		return problemf("want %s (a JSON object), got %s", what, k)
	}
	s.arena.reset(len(b))
	if err := read(&s); err != nil {
		return err
	}
	return s.end()
}

// readRaw checks a record's raw payload and, for a lean record (an
// Alertmanager alert without labels), reads from it what the record left out.
func readRaw(a *quell.Alert, raw []byte) error {
	r := scanner{b: raw}
	if a.Labels == nil && a.Source == SourceAlertmanager {
		var from quell.Alert
		if _, err := r.readAMAlert(&from, false, nil); err != nil {
			return err
		}
		a.Labels, a.Annotations, a.GeneratorURL = from.Labels, from.Annotations, from.GeneratorURL
	} else if err := r.skip(); err != nil {
		return err
	}
	return r.end()
}

// ParseIncidentChangeRecord reads one incident change as quell writes it to
// Kafka (quell.IncidentChange.AppendJSON). Every change carries all of the
// incident's alerts, and a sink reads every change: with encoding/json,
// decoding them took most of a sink's CPU under a storm.
func ParseIncidentChangeRecord(b []byte) (quell.IncidentChange, error) {
	var c quell.IncidentChange
	err := readRecord(b, "a quell incident change", func(s *scanner) error { return s.changeRecord(&c) })
	return c, err
}

// changeRecord reads the object of a quell.IncidentChange.
func (s *scanner) changeRecord(c *quell.IncidentChange) error {
	return s.object(func(key []byte) error {
		var err error
		var v string
		switch string(key) {
		case "kind":
			v, err = s.str()
			c.Kind = quell.ChangeKind(v)
		case "incident":
			err = s.incidentRecord(&c.Incident)
		case "seq":
			c.Seq, err = s.uint()
		case "at":
			c.At, err = s.time()
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}

// incidentRecord reads the object of a quell.Incident.
func (s *scanner) incidentRecord(in *quell.Incident) error {
	return s.object(func(key []byte) error {
		var err error
		var v string
		switch string(key) {
		case "id":
			// Its own copy: sinks keep incident ids as long as the incident
			// lives, and a string of the arena would keep the whole record.
			v, err = s.str()
			in.ID = strings.Clone(v)
		case "status":
			v, err = s.str()
			in.Status = quell.IncidentStatus(v)
		case "title":
			in.Title, err = s.str()
		case "severity":
			v, err = s.str()
			in.Severity = quell.Severity(v)
		case "createdAt":
			in.CreatedAt, err = s.time()
		case "updatedAt":
			in.UpdatedAt, err = s.time()
		case "resolvedAt":
			in.ResolvedAt, err = s.time()
		case "resolvedBy":
			in.ResolvedBy, err = s.str()
		case "acknowledgedAt":
			in.AcknowledgedAt, err = s.time()
		case "acknowledgedBy":
			in.AcknowledgedBy, err = s.str()
		case "assignedTo":
			in.AssignedTo, err = s.str()
		case "mergedInto":
			in.MergedInto, err = s.str()
		case "evicted":
			in.Evicted, err = s.bool()
		case "resolving":
			in.Resolving, err = s.bool()
		case "closesAt":
			in.ClosesAt, err = s.time()
		case "runbooks":
			if !s.null() {
				err = s.array(func(i int) error {
					r, err := s.str()
					in.Runbooks = append(in.Runbooks, r)
					return atIndex("", i, err)
				})
			}
		case "recurrence":
			if !s.null() {
				in.Recurrence = &quell.Recurrence{}
				err = s.recurrence(in.Recurrence)
			}
		case "alerts":
			if !s.null() {
				in.Alerts = []quell.IncidentAlert{}
				err = s.array(func(i int) error {
					in.Alerts = append(in.Alerts, quell.IncidentAlert{})
					return atIndex("", i, s.memberRecord(&in.Alerts[i]))
				})
			}
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}

func (s *scanner) recurrence(r *quell.Recurrence) error {
	return s.object(func(key []byte) error {
		var err error
		var n uint64
		switch string(key) {
		case "signature":
			r.Signature, err = s.str()
		case "seen":
			n, err = s.uint()
			r.Seen = int(n)
		case "last":
			r.Last, err = s.str()
		case "lastResolvedAt":
			r.LastResolvedAt, err = s.time()
		case "lastResolvedBy":
			r.LastResolvedBy, err = s.str()
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}

// ParseIncidentAlert reads the JSON object of a quell.IncidentAlert, as
// its AppendJSON writes it, at the start of b, and returns how many bytes
// it took. The correlator's saved state holds one inside each member's
// record, and a storm's state is mostly those: restored with encoding/json,
// they took seconds.
func ParseIncidentAlert(b []byte) (quell.IncidentAlert, int, error) {
	var m quell.IncidentAlert
	s := scanner{b: b}
	if k := kindOf(s.peek()); k != "an object" {
		return m, 0, problemf("want a quell incident alert (a JSON object), got %s", k)
	}
	s.arena.reset(len(b))
	err := s.memberRecord(&m)
	return m, s.i, err
}

// memberRecord reads the object of a quell.IncidentAlert.
func (s *scanner) memberRecord(m *quell.IncidentAlert) error {
	return s.object(func(key []byte) error {
		var err error
		var v string
		var n uint64
		switch string(key) {
		case "fingerprint":
			if v, err = s.str(); err == nil {
				err = m.Fingerprint.UnmarshalText([]byte(v))
			}
		case "source":
			m.Source, err = s.str()
		case "status":
			v, err = s.str()
			m.Status = quell.Status(v)
		case "labels":
			m.Labels, err = s.stringMap(0, false)
		case "annotations":
			m.Annotations, err = s.stringMap(0, false)
		case "startsAt":
			m.StartsAt, err = s.time()
		case "endsAt":
			m.EndsAt, err = s.time()
		case "count":
			n, err = s.uint()
			m.Count = int(n)
		case "lastSeen":
			m.LastSeen, err = s.time()
		case "flapping":
			m.Flapping, err = s.bool()
		case "reason":
			m.Reason, err = s.str()
		default:
			return s.skip()
		}
		if err != nil {
			return at(string(key), err)
		}
		return nil
	})
}
