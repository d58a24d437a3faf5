// Package budget bounds quell's memory in bytes. One limit serves three
// ends: the Go runtime's soft limit (debug.SetMemoryLimit), so that the
// collector works harder as the process nears it; shares for the
// correlator's state, the queue of accepted alerts and a sink's buffer,
// which they hold to by their own count of bytes; and admission, so that
// ingest answers 503 before what is live passes its share.
package budget

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Shares of the limit. What is live (the correlator's state, queued alerts,
// request bodies, output on its way to the sinks) is kept to 70% of it, so
// that the collector has room to work; the correlator's state, the queue and
// a sink's buffer take a fixed part of that, the rest is for bodies, what
// the process holds anyway, and what the estimates of bytes miss.
const (
	admitShare = 0.7
	// collectorRoom: what is live also stays within this part of the
	// runtime's soft limit, so that the collector keeps room to work in a
	// small budget, where the tenth kept out of the soft limit is mostly
	// quell's own code: at 70% of a 128 MiB budget the collector ran
	// without pause and the heap outgrew the soft limit when short of CPU.
	collectorRoom = 0.75

	stateShare = 0.25
	queueShare = 0.1
	sinkShare  = 0.1
	// historyShare: resolved incidents kept for reading (see history);
	// timelineShare: what happened to each incident (see timeline).
	historyShare  = 0.05
	timelineShare = 0.03
	// recentShare: alerts ingest parsed lately, which repeats of them
	// recall instead of being parsed again (see ingest.recentAlerts). Their
	// maps are mostly those the correlator's state holds too.
	recentShare = 0.08
	// minOutside: kept out of the Go runtime's soft limit for what
	// the process holds outside the runtime's count (its code, mapped
	// files), so that the resident total stays within the limit: a tenth of
	// it, at least 32 MiB (quell's own code is about 19 MiB of it once busy).
	minOutside = 32 << 20
	// workFactor is what a request body costs while it is handled: the
	// body, the parsed alerts with their raw payloads, the journal record.
	workFactor = 3
	// refreshEvery bounds how often the live heap is read; staleAfter is
	// how old a collection may be while over the budget.
	refreshEvery = 50 * time.Millisecond
	staleAfter   = time.Second
	// gcPercent paces the collector below the soft limit: what is live is
	// bounded by admission, and the soft limit makes the collector run
	// before the heap passes the budget, so the runtime's default of 100
	// (a collection per live heap allocated) only spends CPU: 12% of
	// quell's under load with 170 MB live.
	gcPercent = 300
)

// Budget is a memory limit in bytes and what is admitted under it.
type Budget struct {
	limit   int64
	admit   int64        // what may be live (see admitShare, collectorRoom)
	pending atomic.Int64 // bytes of request bodies admitted and being handled

	mu      sync.Mutex
	live    int64 // the heap's live bytes after the last collection
	readAt  time.Time
	cycles  uint64    // collections so far, at readAt
	cycleAt time.Time // when cycles last changed
	samples []metrics.Sample
	forcing atomic.Bool // a collection this package asked for is running
}

// New makes a budget of limit bytes and sets the runtime's soft limit.
func New(limit int64) *Budget {
	debug.SetMemoryLimit(runtimeLimit(limit))
	if os.Getenv("GOGC") == "" { // an operator's GOGC wins
		debug.SetGCPercent(gcPercent)
	}
	admit := min(int64(admitShare*float64(limit)), int64(collectorRoom*float64(runtimeLimit(limit))))
	return &Budget{limit: limit, admit: admit, cycleAt: time.Now(), samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}}
}

// runtimeLimit is the Go runtime's soft limit for a budget of limit bytes.
func runtimeLimit(limit int64) int64 { return max(limit-max(limit/10, minOutside), limit/2) }

// Limit is the budget in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Live is the heap's live bytes after the last collection (read at most
// every 50 ms).
func (b *Budget) Live() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.readAt) < refreshEvery {
		return b.live
	}
	metrics.Read(b.samples)
	b.readAt = time.Now()
	b.live = int64(b.samples[0].Value.Uint64())
	if cycles := b.samples[1].Value.Uint64(); cycles != b.cycles {
		b.cycles, b.cycleAt = cycles, b.readAt
	}
	// What is live is known only after a collection, and a process that
	// refuses work allocates little and collects seldom: over the budget,
	// collect at least every second, or it would refuse for good.
	if b.live > b.admit && b.readAt.Sub(b.cycleAt) > staleAfter && b.forcing.CompareAndSwap(false, true) {
		go func() {
			runtime.GC()
			b.forcing.Store(false)
		}()
	}
	return b.live
}

// Pending is the bytes of request bodies admitted and not yet released.
func (b *Budget) Pending() int64 { return b.pending.Load() }

// Admit reserves what handling a body of n bytes costs, or reports false
// when that would pass the budget. A caller that got true calls Release(n).
// A body is admitted into an empty budget whatever its size, so that one
// large request cannot be refused forever.
func (b *Budget) Admit(n int64) bool {
	cost := workFactor * n
	for {
		p := b.pending.Load()
		if p == 0 && b.Full() || p > 0 && b.Live()+p+cost > b.admit {
			return false
		}
		if b.pending.CompareAndSwap(p, p+cost) {
			return true
		}
	}
}

// Full reports whether what is live alone fills the share ingest may use:
// /readyz then fails.
func (b *Budget) Full() bool { return b.Live() > b.admit }

// Release returns what Admit(n) reserved.
func (b *Budget) Release(n int64) { b.pending.Add(-workFactor * n) }

// StateBytes is what the correlator's incidents may hold
// (correlate.Config.MaxStateBytes).
func (b *Budget) StateBytes() int64 { return int64(stateShare * float64(b.limit)) }

// SinkBytes is what a sink's buffer may hold (ClickHouse's, while the
// server is slow or down).
func (b *Budget) SinkBytes() int64 { return int64(sinkShare * float64(b.limit)) }

// QueueBytes is what the alerts accepted and not yet correlated may hold.
func (b *Budget) QueueBytes() int64 { return int64(queueShare * float64(b.limit)) }

// HistoryBytes is what the resolved incidents kept for reading may hold.
func (b *Budget) HistoryBytes() int64 { return int64(historyShare * float64(b.limit)) }

// TimelineBytes is what the incidents' timelines kept for reading may hold.
func (b *Budget) TimelineBytes() int64 { return int64(timelineShare * float64(b.limit)) }

// RecentBytes is what ingest's recently parsed alerts may hold.
func (b *Budget) RecentBytes() int64 { return int64(recentShare * float64(b.limit)) }

// DefaultLimit is three quarters of the memory limit of the process's
// cgroup (a container's limit), or 512 MiB without one.
func DefaultLimit() int64 {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// "max", or a huge number, when no limit is set.
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n < 1<<50 {
			return n / 4 * 3
		}
	}
	return 512 << 20
}
