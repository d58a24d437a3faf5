package quell

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The JSON of alerts and decisions, written directly: quell encodes every
// alert it accepts and every decision it makes, and encoding/json spent most
// of the CPU of ingest and the correlator doing it (re-validating raw
// payloads, walking label maps by reflection). The output is what encoding/json
// writes (alert_json_test.go checks).

// AppendJSON appends d's JSON, as encoding/json would write it (the raw
// payload verbatim), to b.
func (d *Decision) AppendJSON(b []byte) []byte {
	b = append(b, `{"alert":`...)
	b = d.Alert.AppendJSON(b, true)
	b = append(b, `,"incident":`...)
	b = appendString(b, d.Incident)
	b = append(b, `,"action":`...)
	b = appendString(b, string(d.Action))
	b = append(b, `,"reason":`...)
	b = appendString(b, d.Reason)
	b = append(b, `,"at":`...)
	b = appendTime(b, d.At)
	b = appendOptional(b, `,"actor":`, d.Actor)
	b = appendOptional(b, `,"via":`, d.Via)
	return append(b, '}')
}

// AppendJSON appends a's JSON, as encoding/json would write it (fields in
// the same order), to b; the raw payload, already valid JSON since ingest
// parsed it, goes in verbatim when withRaw.
func (a *Alert) AppendJSON(b []byte, withRaw bool) []byte {
	b = append(b, `{"source":`...)
	b = appendString(b, a.Source)
	b = append(b, `,"status":`...)
	b = appendString(b, string(a.Status))
	b = append(b, `,"labels":`...)
	b = appendMap(b, a.Labels)
	if len(a.Annotations) > 0 {
		b = append(b, `,"annotations":`...)
		b = appendMap(b, a.Annotations)
	}
	b = append(b, `,"startsAt":`...)
	b = appendTime(b, a.StartsAt)
	b = append(b, `,"endsAt":`...)
	b = appendTime(b, a.EndsAt)
	b = append(b, `,"severity":`...)
	b = appendString(b, string(a.Severity))
	b = append(b, `,"fingerprint":"`...)
	b, _ = a.Fingerprint.AppendText(b)
	b = append(b, '"')
	b = appendOptional(b, `,"generatorURL":`, a.GeneratorURL)
	b = appendOptional(b, `,"sourceFingerprint":`, a.SourceFingerprint)
	b = append(b, `,"receivedAt":`...)
	b = appendTime(b, a.ReceivedAt)
	if withRaw && len(a.Raw) > 0 {
		b = append(b, `,"raw":`...)
		b = append(b, a.Raw...)
	}
	return append(b, '}')
}

// AppendJSON appends m's JSON, as encoding/json would write it, to b: the
// correlator's saved state holds one per member alert.
func (m *IncidentAlert) AppendJSON(b []byte) []byte {
	b = append(b, `{"fingerprint":"`...)
	b, _ = m.Fingerprint.AppendText(b)
	b = append(b, `","source":`...)
	b = appendString(b, m.Source)
	b = append(b, `,"status":`...)
	b = appendString(b, string(m.Status))
	b = append(b, `,"labels":`...)
	b = appendMap(b, m.Labels)
	if len(m.Annotations) > 0 {
		b = append(b, `,"annotations":`...)
		b = appendMap(b, m.Annotations)
	}
	b = append(b, `,"startsAt":`...)
	b = appendTime(b, m.StartsAt)
	b = append(b, `,"endsAt":`...)
	b = appendTime(b, m.EndsAt)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(m.Count), 10)
	b = append(b, `,"lastSeen":`...)
	b = appendTime(b, m.LastSeen)
	if m.Flapping {
		b = append(b, `,"flapping":true`...)
	}
	b = append(b, `,"reason":`...)
	b = appendString(b, m.Reason)
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string, as encoding/json writes it:
// for the correlator's state records, written as directly as alerts.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// AppendJSONTime appends t as a JSON string, as time.Time's MarshalJSON does.
func AppendJSONTime(b []byte, t time.Time) []byte { return appendTime(b, t) }

// AppendJSONTimes appends ts as a JSON array of AppendJSONTime's strings.
func AppendJSONTimes(b []byte, ts []time.Time) []byte {
	b = append(b, '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTime(b, t)
	}
	return append(b, ']')
}

// appendOptional appends a string field that encoding/json leaves out when
// empty (omitempty).
func appendOptional(b []byte, field, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, field...), s)
}

// appendMap writes m with its keys in order, as encoding/json does: the
// same alert gives the same bytes, so that replays give identical logs.
func appendMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var buf [16][2]string // labels and annotations are few: no allocation
	kvs := buf[:0]
	for k, v := range m {
		kvs = append(kvs, [2]string{k, v})
	}
	slices.SortFunc(kvs, func(x, y [2]string) int { return strings.Compare(x[0], y[0]) })
	b = append(b, '{')
	for i, kv := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, kv[0])
		b = append(b, ':')
		b = appendString(b, kv[1])
	}
	return append(b, '}')
}

// appendTime writes RFC 3339 with nanoseconds, as time.Time's MarshalJSON
// does; ingest refuses years it could not write.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString writes s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028/U+2029
// escaped (JavaScript reads them as line ends), as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s, i) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 tells whether the eight bytes of s at i are written as they are:
// tested a word at a time, most of an alert's text is copied without a look
// at each byte.
func plain8(s string, i int) bool {
	_ = s[i+7]
	w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
	return JSONSpecialBytes(w) == 0
}

// JSONSpecialBytes has a byte's high bit set when that byte of w
// (little-endian) cannot stand as it is in a JSON string: below 0x20, a
// quote, a backslash or non-ASCII. Bits above the first such byte may be
// spurious (borrows), so only "any" and the lowest one are meaningful.
// Readers and writers of JSON skip plain text with it a word at a time.
func JSONSpecialBytes(w uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((w-lsb*0x20)&^w | (q-lsb)&^q | (bs-lsb)&^bs | w) & msb
}
