// Package replay runs recorded alert payloads through dedupe and correlation
// in event time: the alerts' own timestamps are the clock, so the same input
// gives the same incidents every time, however fast it runs.
package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
)

// maxLine bounds one payload line; larger ones are an error, not a silent cut.
const maxLine = 64 << 20

// ReadFile reads one payload a line: an Alertmanager webhook message (an
// object) or a v2 alerts array, and a person's feedback as the journal
// keeps it, {"feedback": {"action": ..., "incident": ..., "actor": ...,
// "at": ...}}, so that a replay applies what people said where they said
// it. Errors name the file and line.
func ReadFile(path string, fp *dedupe.Fingerprinter) ([]quell.Alert, []quell.Feedback, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	alerts, feedback, err := Read(f, fp)
	if err != nil {
		return nil, nil, fmt.Errorf("%s:%w", path, err)
	}
	return alerts, feedback, nil
}

// Read is ReadFile on any reader; its errors start with the line number.
func Read(r io.Reader, fp *dedupe.Fingerprinter) ([]quell.Alert, []quell.Feedback, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var out []quell.Alert
	var feedback []quell.Feedback
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, []byte(`{"feedback"`)) {
			var l struct {
				Feedback *quell.Feedback `json:"feedback"`
			}
			if err := json.Unmarshal(line, &l); err != nil || l.Feedback == nil {
				return nil, nil, fmt.Errorf("%d: a feedback line: %v", n, err)
			}
			if err := l.Feedback.Validate(); err != nil {
				return nil, nil, fmt.Errorf("%d: %w", n, err)
			}
			feedback = append(feedback, *l.Feedback)
			continue
		}
		var (
			alerts []quell.Alert
			err    error
		)
		// Replay knows no "now": a v2 alert's endsAt is when it would expire
		// unless refreshed, which the correlator applies in event time.
		if line[0] == '[' {
			alerts, err = ingest.ParseAlertsV2(line, time.Time{})
		} else {
			alerts, err = ingest.ParseAlertmanagerWebhook(line, time.Time{})
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%d: %w", n, err)
		}
		for i := range alerts {
			alerts[i].Fingerprint = fp.Fingerprint(&alerts[i])
		}
		out = append(out, alerts...)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading: %w", err)
	}
	return out, feedback, nil
}

// Run feeds alerts and feedback to eng in time order (stable, so equal
// times keep their input order; feedback after the alerts of its moment)
// and decides everything still pending at the end. It returns why each
// feedback that could not apply did not.
func Run(alerts []quell.Alert, feedback []quell.Feedback, eng *correlate.Engine) []error {
	slices.SortStableFunc(alerts, func(a, b quell.Alert) int { return a.EventTime().Compare(b.EventTime()) })
	slices.SortStableFunc(feedback, func(a, b quell.Feedback) int { return a.At.Compare(b.At) })
	var refused []error
	apply := func(until time.Time, all bool) {
		for len(feedback) > 0 && (all || feedback[0].At.Before(until)) {
			eng.EmitUpdates()
			if _, err := eng.Feedback(&feedback[0]); err != nil && !errors.Is(err, correlate.ErrNoChange) {
				refused = append(refused, fmt.Errorf("feedback %s by %s at %s: %w", feedback[0].Action, feedback[0].Actor, feedback[0].At.Format(time.RFC3339), err))
			}
			feedback = feedback[1:]
		}
	}
	for i := range alerts {
		at := alerts[i].EventTime()
		if i > 0 && at.After(alerts[i-1].EventTime()) {
			apply(at, false)
			eng.EmitUpdates() // alerts of one moment are one batch, as when serving
		}
		eng.Process(&alerts[i], at)
	}
	apply(time.Time{}, true)
	eng.Flush()
	return refused
}
