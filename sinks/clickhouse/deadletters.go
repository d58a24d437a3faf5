package clickhouse

import (
	"time"

	"github.com/cespare/xxhash/v2"
)

// DeadLetter is a record some stage could not process or store.
type DeadLetter struct {
	// Stage names where it failed, e.g. "sink.clickhouse.decisions".
	Stage string
	// Reason is the error, as the operator should read it.
	Reason string
	// At is when it first failed. Keep it when redelivering the letter:
	// it is part of the row's identity, so the copy dedupes.
	At      time.Time
	Payload []byte
}

func deadLetterInsert(ls []DeadLetter) insert {
	var (
		n       = len(ls)
		digest  = xxhash.New()
		ids     = make([]uint64, 0, n)
		stages  = make([]string, 0, n)
		reasons = make([]string, 0, n)
		loads   = make([]string, 0, n)
		at      stamp
	)
	for _, l := range ls {
		ids = append(ids, rowID(digest, l.At, l.Payload, l.Stage, l.Reason))
		stages = append(stages, l.Stage)
		reasons = append(reasons, l.Reason)
		loads = append(loads, string(l.Payload))
		at.add(l.At)
	}
	in := insert{table: "dead_letters", rows: n, cols: []column{
		{"event_id", ids}, {"stage", stages}, {"reason", reasons},
	}}
	in.cols = append(in.cols, at.cols("failed_at")...)
	in.cols = append(in.cols, column{"payload", loads})
	return in
}
