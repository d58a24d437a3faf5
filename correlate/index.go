package correlate

import (
	"slices"
	"sort"
	"time"

	"github.com/quellhq/quell"
)

// scope is one partition of alerts (see Config.ScopeLabels) with the index
// that finds the incidents an alert could join without a scan: by recent
// activity, by entity value and by graph node.
type scope struct {
	key uint64
	// newest and oldest end the list of the incidents in the order of
	// their last activity (see noteActivity).
	newest, oldest *incident
	byToken        map[uint64][]*incident // oldest incident first
	byNode         map[int32][]*incident  // oldest incident first
	recentSigs     []recentSig            // signatures that started firing lately (see cooccur)
	starts         uint64                 // alerts that started firing in it, counted as co-firing is learned (see coRecency)
	pace           pace                   // how often alerts start firing in it
	spacing        Spacing                // how far apart they start, and whether they fire again
	adds           int                    // index entries added since the last sweep
	kept           int                    // index entries the last sweep kept
	dropped        int                    // incidents dropped (evicted, merged away) since the last sweep
}

func newScope(key uint64) *scope {
	return &scope{key: key, byToken: map[uint64][]*incident{}, byNode: map[int32][]*incident{}}
}

func (e *Engine) scope(key uint64) *scope {
	sc := e.scopes[key]
	if sc == nil {
		sc = newScope(key)
		e.scopes[key] = sc
	}
	return sc
}

// file adds inc to a posting list, kept in creation order so that a scope
// rebuilt from a snapshot lists the same incidents in the same order.
func file[K comparable](m map[K][]*incident, k K, inc *incident) {
	list := m[k]
	if len(list) == 0 || !before(inc, list[len(list)-1]) {
		m[k] = append(list, inc) // the usual case: the newest incident
		return
	}
	i := sort.Search(len(list), func(i int) bool { return before(inc, list[i]) })
	m[k] = slices.Insert(list, i, inc)
}

func (sc *scope) fileToken(t uint64, inc *incident) { file(sc.byToken, t, inc); sc.adds++ }
func (sc *scope) fileNode(n int32, inc *incident)   { file(sc.byNode, n, inc); sc.adds++ }

// before orders incidents by creation, then id.
func before(a, b *incident) bool {
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.id < b.id
}

// noteActivity moves inc to the newest end of the activity list: an
// incident active again leaves no old entry behind, so that finding the
// incidents most recently active costs what it finds, however busy the
// busiest incident is.
func (sc *scope) noteActivity(inc *incident) {
	if inc.listed {
		sc.unlist(inc)
	}
	inc.older, inc.newer, inc.listed = sc.newest, nil, true
	if sc.newest != nil {
		sc.newest.newer = inc
	} else {
		sc.oldest = inc
	}
	sc.newest = inc
}

func (sc *scope) unlist(inc *incident) {
	if inc.older != nil {
		inc.older.newer = inc.newer
	} else {
		sc.oldest = inc.newer
	}
	if inc.newer != nil {
		inc.newer.older = inc.older
	} else {
		sc.newest = inc.older
	}
	inc.older, inc.newer, inc.listed = nil, nil, false
}

// drop takes an incident that left quell's memory (evicted, merged away)
// off the activity list and counts it for the next sweep (see maybeSweep).
func (sc *scope) drop(inc *incident) {
	if inc.listed {
		sc.unlist(inc)
	}
	sc.dropped++
}

// live tells whether an incident can still take alerts and so belongs in
// the index.
func live(inc *incident) bool {
	return inc.status == quell.IncidentOpen && inc.mergedInto == nil && !inc.evicted
}

// sweep drops what the index holds of incidents that no longer take
// alerts, and activity older than window. The engine calls it once dead
// entries may outnumber live ones, so it costs O(1) per change over time.
func (sc *scope) sweep(now time.Time, window time.Duration) {
	for inc := sc.oldest; inc != nil; {
		next := inc.newer
		if !live(inc) || now.Sub(inc.lastActivity) > window {
			sc.unlist(inc)
		}
		inc = next
	}
	sc.kept = liveOnly(sc.byToken) + liveOnly(sc.byNode)
}

// liveOnly keeps the live incidents of every posting list, drops the
// lists left empty, and returns the entries kept.
func liveOnly[K comparable](m map[K][]*incident) int {
	n := 0
	for k, list := range m {
		keep := list[:0]
		for _, inc := range list {
			if live(inc) {
				keep = append(keep, inc)
			}
		}
		clear(list[len(keep):])
		n += len(keep)
		if len(keep) == 0 {
			delete(m, k)
		} else {
			m[k] = keep
		}
	}
	return n
}

// maybeSweep sweeps a scope once the entries added since its last sweep
// may outnumber those it kept (a sweep walks both), or once the incidents
// dropped since, which the index's lists keep alive, may outnumber those
// quell holds: O(1) per change over time, and dead incidents do not pile
// up in memory.
func (e *Engine) maybeSweep(sc *scope) {
	if sc.adds < sc.kept+4096 && sc.dropped < len(e.incidents)+1024 {
		return
	}
	sc.adds, sc.dropped = 0, 0
	sc.sweep(e.now, e.cfg.Window)
}
