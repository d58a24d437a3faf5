// Package quell holds the types every stage shares: the normalized alert, the
// incident it belongs to, and the decision record that explains each grouping.
package quell

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Status is an alert's state as its source reported it.
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// Severity is mapped from each source's own scale.
type Severity string

const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Rank orders severities so the worst of a set can be picked: critical > warning > info.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// Fingerprint is quell's identity of an alert: xxhash64 over its source and
// sorted identity labels (see package dedupe). It prints as 16 hex digits.
type Fingerprint uint64

func (f Fingerprint) String() string {
	b, _ := f.AppendText(make([]byte, 0, 16))
	return string(b)
}

func (f Fingerprint) MarshalText() ([]byte, error) { return f.AppendText(nil) }

// AppendText appends f as 16 hex digits, as String writes it.
func (f Fingerprint) AppendText(b []byte) ([]byte, error) {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[uint64(f)>>shift&15])
	}
	return b, nil
}

func (f *Fingerprint) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = 0
		return nil
	}
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("fingerprint %q: want 16 hex digits", b)
	}
	*f = Fingerprint(v)
	return nil
}

// Alert is one alert occurrence, normalized from any source.
type Alert struct {
	Source      string            `json:"source"`
	Status      Status            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is zero while an alert fires with no announced end.
	EndsAt       time.Time   `json:"endsAt"`
	Severity     Severity    `json:"severity"`
	Fingerprint  Fingerprint `json:"fingerprint"`
	GeneratorURL string      `json:"generatorURL,omitempty"`
	// SourceFingerprint is the sender's own identity (Alertmanager's FNV-64a),
	// kept for cross-reference and never used as ours.
	SourceFingerprint string `json:"sourceFingerprint,omitempty"`
	// ReceivedAt is when quell accepted the alert (wall clock).
	ReceivedAt time.Time `json:"receivedAt"`
	// Raw is the alert as the source sent it, kept for audit.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// EventTime is the moment the alert's current state began: its start while
// firing, its end once resolved. Replay orders and clocks everything by it.
func (a *Alert) EventTime() time.Time {
	if a.Status == Resolved && !a.EndsAt.IsZero() {
		return a.EndsAt
	}
	if !a.StartsAt.IsZero() {
		return a.StartsAt
	}
	return a.ReceivedAt
}

// Size estimates the bytes the alert holds in memory: its raw payload,
// labels and annotations, and what their maps and the struct cost beyond.
func (a *Alert) Size() int { return 512 + len(a.Raw) + entriesSize(a.Labels, a.Annotations) }

// entriesSize is what label or annotation maps hold: their strings' bytes
// and, per entry, an estimate of the map bucket and string headers, so that
// many small entries count too.
func entriesSize(ms ...map[string]string) int {
	n := 0
	for _, m := range ms {
		for k, v := range m {
			n += 48 + len(k) + len(v)
		}
	}
	return n
}

// Validate reports the first problem that makes an alert unusable.
func (a *Alert) Validate() error {
	switch {
	case a.Source == "":
		return fmt.Errorf("alert has no source")
	case a.Status != Firing && a.Status != Resolved:
		return fmt.Errorf("alert status %q: want firing or resolved", a.Status)
	case len(a.Labels) == 0:
		return fmt.Errorf("alert has no labels: at least one label (e.g. alertname) is needed to identify it")
	}
	return nil
}
