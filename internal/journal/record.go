package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/bus"
)

// A record is framed as a 4-byte length of its body, a 4-byte CRC-32C of
// the body, then the body: a kind byte and its payload. The checksum tells
// a record cut short or overwritten from an intact one.
const frameLen = 8

// Record kinds.
const (
	kindAlerts   byte = 'A' // a batch: each alert as a 4-byte length and ingest.AppendLeanRecord
	kindTick     byte = 'T' // the clock moving: 8 bytes of Unix nanoseconds
	kindFeedback byte = 'F' // a person's feedback: its JSON
)

// maxRecord bounds a record's length; a frame that claims more is garbage.
// A batch is one request's alerts, which ingest.max_body_bytes bounds far
// below this.
const maxRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord frames e onto b.
func appendRecord(b []byte, e bus.Entry) []byte {
	at := len(b)
	b = append(b, make([]byte, frameLen)...)
	switch {
	case e.Feedback != nil:
		// Feedback is rare and small, and every field marshals.
		j, _ := json.Marshal(e.Feedback)
		b = append(append(b, kindFeedback), j...)
	case e.IsTick():
		b = binary.BigEndian.AppendUint64(append(b, kindTick), uint64(e.Tick.UnixNano()))
	default:
		b = append(b, kindAlerts)
		for i := range e.Alerts {
			n := len(b)
			b = ingest.AppendLeanRecord(append(b, 0, 0, 0, 0), &e.Alerts[i])
			binary.BigEndian.PutUint32(b[n:], uint32(len(b)-n-4))
		}
	}
	body := b[at+frameLen:]
	binary.BigEndian.PutUint32(b[at:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[at+4:], crc32.Checksum(body, castagnoli))
	return b
}

// frameAt reports whether an intact record starts at b[0], and its whole length.
func frameAt(b []byte) (int, bool) {
	if len(b) < frameLen+1 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxRecord || int64(n) > int64(len(b)-frameLen) {
		return 0, false
	}
	body := b[frameLen : frameLen+int(n)]
	if body[0] != kindAlerts && body[0] != kindTick && body[0] != kindFeedback {
		return 0, false
	}
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return 0, false
	}
	return frameLen + int(n), true
}

// decodeBody reads an intact record's body.
func decodeBody(body []byte) (bus.Entry, error) {
	switch body[0] {
	case kindTick:
		if len(body) != 9 {
			return bus.Entry{}, errors.New("a clock record of the wrong length")
		}
		return bus.Entry{Tick: time.Unix(0, int64(binary.BigEndian.Uint64(body[1:])))}, nil
	case kindFeedback:
		var f quell.Feedback
		if err := json.Unmarshal(body[1:], &f); err != nil {
			return bus.Entry{}, fmt.Errorf("a feedback record: %w", err)
		}
		return bus.Entry{Feedback: &f}, nil
	case kindAlerts:
		b := body[1:]
		alerts := []quell.Alert{}
		for len(b) > 0 {
			if len(b) < 4 {
				return bus.Entry{}, errors.New("an alert's length is cut short")
			}
			n := int(binary.BigEndian.Uint32(b))
			if 4+n > len(b) {
				return bus.Entry{}, errors.New("an alert runs past its batch")
			}
			a, err := ingest.ParseAlertRecord(b[4 : 4+n])
			if err != nil {
				return bus.Entry{}, err
			}
			alerts = append(alerts, a)
			b = b[4+n:]
		}
		return bus.Entry{Alerts: alerts}, nil
	}
	return bus.Entry{}, fmt.Errorf("unknown record kind %q", body[0])
}
