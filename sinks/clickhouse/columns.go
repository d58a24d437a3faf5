package clickhouse

import (
	"encoding/binary"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// column is one column of an INSERT: its name and a typed slice of values.
type column struct {
	name string
	data any
}

// insert is one table's share of a write, column by column, so the driver
// can copy whole slices instead of converting row by row.
type insert struct {
	table string
	cols  []column
	rows  int
}

func (in insert) query() string {
	names := make([]string, len(in.cols))
	for i, c := range in.cols {
		names[i] = c.name
	}
	return "INSERT INTO " + in.table + " (" + strings.Join(names, ", ") + ")"
}

// stamp is a time as the schema keeps it: seconds in a DateTime column and
// the milliseconds of that second beside it.
type stamp struct {
	secs []int64
	ms   []uint16
}

func (s *stamp) add(t time.Time) {
	sec, ms := splitTime(t)
	s.secs = append(s.secs, sec)
	s.ms = append(s.ms, ms)
}

func (s *stamp) cols(name string) []column {
	return []column{{name, s.secs}, {name + "_ms", s.ms}}
}

// splitTime maps a zero (unset) or pre-1970 time to 0, which DateTime
// shows as 0000-00-00 00:00:00, and clamps past DateTime's end in 2106.
func splitTime(t time.Time) (int64, uint16) {
	ms := t.UnixMilli()
	switch {
	case t.IsZero() || ms < 0:
		return 0, 0
	case ms/1000 > math.MaxUint32:
		return math.MaxUint32, 0
	}
	return ms / 1000, uint16(ms % 1000)
}

// splitMap turns a label map into keys and values sorted by key, so the
// same labels always store the same way.
func splitMap(m map[string]string) (keys, values []string) {
	keys = make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// serviceLabels are tried in order for the service column: sources name it
// differently, and Prometheus alerts often carry only job.
var serviceLabels = []string{"service", "service_name", "app", "job"}

func serviceOf(labels map[string]string) string {
	for _, k := range serviceLabels {
		if v := labels[k]; v != "" {
			return v
		}
	}
	return ""
}

// rowID identifies a row of an event table by what it says: parts, each
// followed by a zero byte, the time, then tail. Redelivered rows get the
// same id, which the ReplacingMergeTree dedupes on.
func rowID(d *xxhash.Digest, at time.Time, tail []byte, parts ...string) uint64 {
	var buf [8]byte
	d.Reset()
	for _, s := range parts {
		d.WriteString(s)
		d.Write([]byte{0})
	}
	d.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(at.UnixNano())))
	d.Write(tail)
	return d.Sum64()
}
