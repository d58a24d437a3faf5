package ingest

import (
	"bytes"

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

// ParseAlertRecord reads one alert as quell itself writes it: the JSON of a
// quell.Alert, with its raw payload either inside ("raw") or after the first
// newline (the records of Kafka's alerts topic). The correlator reads every
// alert ingest publishes, so it uses the same scanner as ingest's parsers
// rather than encoding/json, which spent most of its CPU. The caller
// validates the alert (quell.Alert.Validate).
func ParseAlertRecord(b []byte) (quell.Alert, error) {
	var a quell.Alert
	var raw []byte
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b, raw = b[:i], b[i+1:]
		r := scanner{b: raw}
		if err := r.skip(); err != nil {
			return a, problemf("the raw payload after the alert: %v", err)
		}
		if err := r.end(); err != nil {
			return a, problemf("the raw payload after the alert: %v", err)
		}
	}
	s := scanner{b: b}
	if k := kindOf(s.peek()); k != "an object" {
		return a, problemf("want a quell alert (a JSON object), got %s", k)
	}
	s.arena.reset(len(b))
	err := s.object(func(key []byte) error {
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
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return a, err
	}
	if raw != nil {
		a.Raw = bytes.Clone(raw)
	}
	return a, nil
}
