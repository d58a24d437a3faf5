package kafka

import (
	"encoding/json"
	"fmt"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
)

// Records are JSON; alerts and decisions, of which there is one per alert,
// and incident changes, which carry all of an incident's alerts, are written
// directly (see quell.Alert.AppendJSON), an alert as the record
// ingest.AppendAlertRecord describes. appendRecord appends v's record to b.
func appendRecord[T any](b []byte, v *T) ([]byte, error) {
	switch r := any(v).(type) {
	case *quell.Alert:
		return ingest.AppendAlertRecord(b, r), nil
	case *quell.Decision:
		return r.AppendJSON(b), nil
	case *quell.IncidentChange:
		return r.AppendJSON(b), nil
	}
	j, err := json.Marshal(v)
	return append(b, j...), err
}

// decode reads one record and, for types that can check themselves
// (quell.Alert), validates it: a record that decodes to nothing usable is as
// poisonous as one that does not decode. Alerts, which the correlator reads
// by the hundred thousand, and decisions and incident changes, which the
// sinks read as many of, go through ingest's scanner.
func decode[T any](b []byte) (T, error) {
	var v T
	var err error
	switch p := any(&v).(type) {
	case *quell.Alert:
		*p, err = ingest.ParseAlertRecord(b)
	case *quell.Decision:
		*p, err = ingest.ParseDecisionRecord(b)
	case *quell.IncidentChange:
		*p, err = ingest.ParseIncidentChangeRecord(b)
	default:
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		return v, fmt.Errorf("not a JSON %T: %w", v, err)
	}
	if val, ok := any(&v).(interface{ Validate() error }); ok {
		if err := val.Validate(); err != nil {
			return v, fmt.Errorf("invalid %T: %w", v, err)
		}
	}
	return v, nil
}
