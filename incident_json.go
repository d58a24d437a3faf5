package quell

import (
	"io"
	"strconv"
)

// The JSON of incident changes, written directly as alerts are (see
// alert_json.go): a split correlator writes every change to Kafka with all
// of the incident's alerts, and encoding/json spent a sixth of its CPU on
// them. The output reads back with encoding/json to the same values
// (incident_json_test.go checks).

// AppendJSON appends c's JSON, as encoding/json would write it, to b.
func (c *IncidentChange) AppendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, string(c.Kind))
	b = append(b, `,"incident":`...)
	b = c.Incident.AppendJSON(b)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, c.Seq, 10)
	b = append(b, `,"at":`...)
	b = appendTime(b, c.At)
	return append(b, '}')
}

// AppendJSON appends in's JSON, as encoding/json would write it, to b.
func (in *Incident) AppendJSON(b []byte) []byte {
	b, _ = in.appendJSON(b, nil)
	return b
}

// WriteJSON writes in's JSON, as AppendJSON appends it, to w, using buf
// (returned, to be used again) for up to writeChunk bytes and an alert at a
// time: a read of an incident of thousands of alerts never holds its JSON
// whole.
func (in *Incident) WriteJSON(w io.Writer, buf []byte) ([]byte, error) {
	b, err := in.appendJSON(buf[:0], w)
	if err == nil {
		_, err = w.Write(b)
	}
	return b[:0], err
}

// writeChunk: WriteJSON writes once it holds this much.
const writeChunk = 32 << 10

// appendJSON appends in's JSON to b; with w, it writes out what b holds
// whenever that passes writeChunk, between alerts.
func (in *Incident) appendJSON(b []byte, w io.Writer) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, in.ID)
	b = append(b, `,"status":`...)
	b = appendString(b, string(in.Status))
	b = append(b, `,"title":`...)
	b = appendString(b, in.Title)
	b = append(b, `,"severity":`...)
	b = appendString(b, string(in.Severity))
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, in.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, in.UpdatedAt)
	b = append(b, `,"resolvedAt":`...)
	b = appendTime(b, in.ResolvedAt)
	b = appendOptional(b, `,"resolvedBy":`, in.ResolvedBy)
	if !in.AcknowledgedAt.IsZero() {
		b = append(b, `,"acknowledgedAt":`...)
		b = appendTime(b, in.AcknowledgedAt)
	}
	b = appendOptional(b, `,"acknowledgedBy":`, in.AcknowledgedBy)
	b = appendOptional(b, `,"assignedTo":`, in.AssignedTo)
	b = appendOptional(b, `,"mergedInto":`, in.MergedInto)
	if in.Evicted {
		b = append(b, `,"evicted":true`...)
	}
	if in.Resolving {
		b = append(b, `,"resolving":true`...)
	}
	if !in.ClosesAt.IsZero() {
		b = append(b, `,"closesAt":`...)
		b = appendTime(b, in.ClosesAt)
	}
	if len(in.Runbooks) > 0 {
		b = append(b, `,"runbooks":[`...)
		for i, r := range in.Runbooks {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, r)
		}
		b = append(b, ']')
	}
	if r := in.Recurrence; r != nil {
		b = append(b, `,"recurrence":{"signature":`...)
		b = appendString(b, r.Signature)
		b = append(b, `,"seen":`...)
		b = strconv.AppendInt(b, int64(r.Seen), 10)
		b = append(b, `,"last":`...)
		b = appendString(b, r.Last)
		b = append(b, `,"lastResolvedAt":`...)
		b = appendTime(b, r.LastResolvedAt)
		b = appendOptional(b, `,"lastResolvedBy":`, r.LastResolvedBy)
		b = append(b, '}')
	}
	b = append(b, `,"alerts":`...)
	if in.Alerts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range in.Alerts {
			if w != nil && len(b) >= writeChunk {
				if _, err := w.Write(b); err != nil {
					return b, err
				}
				b = b[:0]
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = in.Alerts[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}
