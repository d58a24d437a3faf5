// Package replay runs recorded alert payloads through dedupe and correlation
// in event time: the alerts' own timestamps are the clock, so the same input
// gives the same incidents every time, however fast it runs.
package replay

import (
	"bufio"
	"bytes"
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
// object) or a v2 alerts array. Errors name the file and line.
func ReadFile(path string, fp *dedupe.Fingerprinter) ([]quell.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	alerts, err := Read(f, fp)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return alerts, nil
}

// Read is ReadFile on any reader; its errors start with the line number.
func Read(r io.Reader, fp *dedupe.Fingerprinter) ([]quell.Alert, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var out []quell.Alert
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
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
			return nil, fmt.Errorf("%d: %w", n, err)
		}
		for i := range alerts {
			alerts[i].Fingerprint = fp.Fingerprint(&alerts[i])
		}
		out = append(out, alerts...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return out, nil
}

// Run feeds alerts to eng in event-time order (stable, so equal times keep
// their input order) and decides everything still pending at the end.
func Run(alerts []quell.Alert, eng *correlate.Engine) {
	slices.SortStableFunc(alerts, func(a, b quell.Alert) int { return a.EventTime().Compare(b.EventTime()) })
	for i := range alerts {
		at := alerts[i].EventTime()
		if i > 0 && at.After(alerts[i-1].EventTime()) {
			eng.EmitUpdates() // alerts of one moment are one batch, as when serving
		}
		eng.Process(&alerts[i], at)
	}
	eng.Flush()
}
