package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/quellhq/quell"
)

// refWebhook decodes an Alertmanager webhook with encoding/json, the obvious
// way. It is the baseline in bench_test.go and the oracle in fuzz_test.go:
// exact key matching and last-key-wins, as the scanner does (encoding/json
// folds case for struct fields, so members are taken from a map instead).
func refWebhook(body []byte, now time.Time) ([]quell.Alert, error) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(msg["alerts"], &elems); err != nil || elems == nil {
		return nil, fmt.Errorf("alerts: %v", err)
	}
	out := make([]quell.Alert, len(elems))
	for i, e := range elems {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(e, &m); err != nil {
			return nil, err
		}
		a := &out[i]
		var status, starts, ends string
		for _, f := range []struct {
			key string
			dst any
		}{
			{"labels", &a.Labels}, {"annotations", &a.Annotations}, {"generatorURL", &a.GeneratorURL},
			{"fingerprint", &a.SourceFingerprint}, {"status", &status}, {"startsAt", &starts}, {"endsAt", &ends},
		} {
			if v, ok := m[f.key]; ok {
				if err := json.Unmarshal(v, f.dst); err != nil {
					return nil, err
				}
			}
		}
		a.Status = quell.Status(status)
		var err error
		if a.StartsAt, err = refTime(starts); err != nil {
			return nil, err
		}
		if a.EndsAt, err = refTime(ends); err != nil {
			return nil, err
		}
		if a.StartsAt.IsZero() {
			a.StartsAt = now
		}
		a.Raw = e
		if err := finishAM(a, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func refTime(v string) (time.Time, error) {
	if v == "" || v == amZeroTime {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if t.IsZero() {
		return time.Time{}, err
	}
	return t.UTC(), err
}
