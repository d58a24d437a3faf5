package correlate

import (
	"container/heap"
	"time"

	"github.com/quellhq/quell"
)

type timerKind uint8

const (
	timerPending  timerKind = iota // a scope's pending group reached its deadline
	timerResolve                   // an incident's resolve hold may have passed
	timerExpire                    // a firing alert's announced end may have passed
	timerSettle                    // a flapping alert may have calmed down
	timerForget                    // a resolved incident's reopen window may have passed
	timerAnnounce                  // a new incident is old enough to no longer merge away
)

// timer is a deadline. Timers are never cancelled: each handler checks that
// what it was set for still holds, which keeps every state change O(log n).
type timer struct {
	at    time.Time
	kind  timerKind
	seq   uint64 // insertion order, so equal deadlines fire deterministically
	inc   *incident
	scope *scope
	fp    quell.Fingerprint
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (e *Engine) schedule(t timer) {
	e.timerSeq++
	t.seq = e.timerSeq
	heap.Push(&e.timers, t)
}

// armedKey names one alert's deadline of one kind (expiry, settling).
type armedKey struct {
	fp   quell.Fingerprint
	kind timerKind
}

// arm sets an alert's deadline of a kind unless one is pending: an alert
// sent again and again (Prometheus re-sends firing alerts every minute)
// keeps one timer, not one per occurrence. The handler checks the state
// when the timer fires and arms again if the deadline moved.
func (e *Engine) arm(kind timerKind, fp quell.Fingerprint, at time.Time) {
	k := armedKey{fp, kind}
	if e.armed[k] {
		return
	}
	e.armed[k] = true
	e.schedule(timer{at: at, kind: kind, fp: fp})
}
