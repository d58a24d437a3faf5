package dedupe

import (
	"strconv"

	"github.com/quellhq/quell"
)

// AppendJSON appends s's JSON, as encoding/json would write it, to b: the
// correlator's state holds one per tracked alert and writes those that
// changed at every checkpoint.
func (s *State) AppendJSON(b []byte) []byte {
	b = append(b, `{"fingerprint":"`...)
	b, _ = s.Fingerprint.AppendText(b)
	b = append(b, `","status":`...)
	b = quell.AppendJSONString(b, string(s.Status))
	b = append(b, `,"startsAt":`...)
	b = quell.AppendJSONTime(b, s.StartsAt)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(s.Count), 10)
	b = append(b, `,"firstSeen":`...)
	b = quell.AppendJSONTime(b, s.FirstSeen)
	b = append(b, `,"lastSeen":`...)
	b = quell.AppendJSONTime(b, s.LastSeen)
	if len(s.Changes) > 0 {
		b = quell.AppendJSONTimes(append(b, `,"changes":`...), s.Changes)
	}
	if s.Flapping {
		b = append(b, `,"flapping":true`...)
	}
	b = append(b, `,"expiresAt":`...)
	b = quell.AppendJSONTime(b, s.ExpiresAt)
	return append(b, '}')
}
