package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
)

// The state file is a stream of JSON records, one per line: a header (the
// snapshot without its incidents, alerts and held decisions), each incident
// followed by its member alerts, the tracked alerts, the held decisions.
// Written and read a record at a time, a save or restore holds one alert's
// encoding at once, not the whole state's. A last record marks the end, so
// that a file cut short at a record's boundary is not taken for a smaller
// state.
const stateVersion = 2

type record struct {
	Version  int                      `json:"quellState,omitempty"`
	Header   *saved                   `json:"header,omitempty"`
	Incident *correlate.IncidentState `json:"incident,omitempty"`
	Member   *quell.IncidentAlert     `json:"member,omitempty"`
	Alert    *dedupe.State            `json:"alert,omitempty"`
	Held     *correlate.HeldDecision  `json:"held,omitempty"`
	End      bool                     `json:"end,omitempty"`
}

// encodeState writes s to w as records.
func encodeState(w io.Writer, s saved) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	head := s
	head.Incidents, head.Alerts, head.Held = nil, nil, nil
	if err := enc.Encode(record{Version: stateVersion, Header: &head}); err != nil {
		return err
	}
	// Member alerts, tracked alerts and held decisions, most of a state, are
	// written directly, as the same JSON: encoding/json walks their label maps by
	// reflection and validates held raw payloads again byte by byte.
	var b []byte
	for i := range s.Incidents {
		inc := s.Incidents[i]
		inc.Alerts = nil
		if err := enc.Encode(record{Incident: &inc}); err != nil {
			return err
		}
		for j := range s.Incidents[i].Alerts {
			b = append(b[:0], `{"member":`...)
			b = append(s.Incidents[i].Alerts[j].AppendJSON(b), "}\n"...)
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	for _, a := range s.Alerts {
		b = append(a.AppendJSON(append(b[:0], `{"alert":`...)), "}\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	for i := range s.Held {
		b = append(b[:0], `{"held":{"decision":`...)
		b = s.Held[i].Decision.AppendJSON(b)
		id, _ := json.Marshal(s.Held[i].Incident)
		b = append(append(append(b, `,"incident":`...), id...), "}}\n"...)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	if err := enc.Encode(record{End: true}); err != nil {
		return err
	}
	return bw.Flush()
}

// decodeState reads a state file; with all false, only its header. A file
// of quell before version 2 is one JSON object, read whole.
func decodeState(r io.Reader, all bool) (saved, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return saved{}, err
	}
	var rec record
	if err := json.Unmarshal(first, &rec); err != nil || rec.Version == 0 {
		var s saved
		return s, json.Unmarshal(first, &s)
	}
	if rec.Version != stateVersion || rec.Header == nil {
		return saved{}, fmt.Errorf("state file version %d: this quell reads version %d", rec.Version, stateVersion)
	}
	s := *rec.Header
	for all {
		var rec record
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			return saved{}, errors.New("the file ends before its last record: it was cut short")
		}
		if err != nil {
			return saved{}, err
		}
		switch {
		case rec.End:
			return s, nil
		case rec.Incident != nil:
			s.Incidents = append(s.Incidents, *rec.Incident)
		case rec.Member != nil && len(s.Incidents) > 0:
			inc := &s.Incidents[len(s.Incidents)-1]
			inc.Alerts = append(inc.Alerts, *rec.Member)
		case rec.Alert != nil:
			s.Alerts = append(s.Alerts, rec.Alert)
		case rec.Held != nil:
			s.Held = append(s.Held, *rec.Held)
		default:
			return saved{}, errors.New("a record of no known kind")
		}
	}
	return s, nil
}
