package ingest

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// recentAlerts remembers recently accepted Alertmanager webhook alerts by
// the bytes they came as. Most of a busy system's traffic is repeats: an
// alert sent again byte for byte, and a repeat found here is copied,
// fingerprint included, instead of parsed again. What parsing makes of an
// alert's bytes depends only on the handler's limits, fixed per handler,
// and on the arrival time, which the caller sets afresh. Alerts share their
// maps and raw bytes, which nothing changes once parsed.
//
// It holds at most max bytes (Alert.Size of each) in pairs of slots chosen
// by the bytes' hash; a new alert takes the first place of its pair and
// pushes the pair's last out.
type recentAlerts struct {
	max    int64
	bytes  atomic.Int64
	shards [recentShards]recentShard
}

type recentShard struct {
	mu    sync.Mutex
	pairs [recentPairs][2]remembered
}

// remembered is one alert and its size.
type remembered struct {
	a    *quell.Alert
	size int64
}

const (
	recentShards = 16
	recentPairs  = 2048 // per shard: 64Ki slots in all
	// maxRecalled: a larger alert is rare, costs about as much to compare
	// as to parse, and would push out many others.
	maxRecalled = 16 << 10
)

func newRecentAlerts(max int64) *recentAlerts { return &recentAlerts{max: max} }

func (r *recentAlerts) pair(raw []byte) (*recentShard, *[2]remembered) {
	h := xxhash.Sum64(raw)
	sh := &r.shards[h%recentShards]
	return sh, &sh.pairs[h/recentShards%recentPairs]
}

// get copies into a the alert that came as raw, if one did lately.
func (r *recentAlerts) get(raw []byte, a *quell.Alert) bool {
	sh, p := r.pair(raw)
	sh.mu.Lock()
	both := *p
	sh.mu.Unlock()
	for _, c := range both {
		if c.a != nil && bytes.Equal(c.a.Raw, raw) {
			*a = *c.a
			return true
		}
	}
	return false
}

// put remembers a, which must not change from now on, unless it is larger
// than maxRecalled or would take the whole past max.
func (r *recentAlerts) put(a *quell.Alert) {
	size := int64(a.Size())
	if size > maxRecalled {
		return
	}
	sh, p := r.pair(a.Raw)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	freed := p[1].size
	if r.bytes.Load()-freed+size > r.max {
		return
	}
	p[0], p[1] = remembered{a, size}, p[0]
	r.bytes.Add(size - freed)
}

// objectEnd returns the index just past the JSON object that starts at
// b[i], or -1. It does not validate: a recalled alert's bytes equal those
// of one parsed and validated before, and anything else is parsed.
func objectEnd(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			// To the closing quote: one not escaped, that is, after an
			// even number of backslashes.
			for {
				j := bytes.IndexByte(b[i+1:], '"')
				if j < 0 {
					return -1
				}
				i += 1 + j
				k := i
				for k > 0 && b[k-1] == '\\' {
					k--
				}
				if (i-k)%2 == 0 {
					break
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
