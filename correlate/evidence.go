package correlate

import (
	"fmt"

	"github.com/quellhq/quell"
	"math"
	"strings"
	"time"
)

// The evidence that an alert belongs to an incident, each source in nats
// (log-odds): they add up to a score, and the score's logistic is the
// number reasons print (0 to 1). Every source is graded; none has a cliff.
//
// The weights are chosen on generated systems of many shapes (bench/quality)
// and checked on real ones; see the README's quality section.
const (
	// prior: an alert and an open incident, knowing nothing else.
	prior = -1.0
	// timeNow is the time evidence of an alert at the incident's last
	// activity; it falls by timeFall per e-fold of 1+Δ/TimeScale.
	timeNow  = 4.5
	timeFall = 4.5
	// subjectShare scales a shared value that is what the alert, or a
	// member of the incident, is about; contextShare one that is only
	// context on both sides (the exporter's job, the namespace).
	subjectShare = 0.5
	contextShare = 0.15
	// sameAlert: the alert was a member of the incident before.
	sameAlert = 3.4
	// nameShare: a shared alertname or summary words, times their rarity.
	nameShare = 0.25
	// coShare: co-firing learned online, at full share and count.
	coShare = 1.5
	// coCount: co-firings needed before co-occurrence counts fully.
	coCount = 5.0
	// stranger: the alert is about a workload the incident is not, and
	// nothing relates the two; the time evidence then does not count.
	stranger = -0.5
	// entityLink: evidence beyond time from which one alert links two young
	// incidents into one (see mergeYoung).
	entityLink = 1.0
)

// hopEvidence is the graph evidence by distance: 0 hops (one node) to 8.
var hopEvidence = [...]float64{1.5, 1.2, 0.8, 0.45, 0.2, 0.1, 0.05, 0.025, 0.01}

// evidence is one incident's case for taking an alert.
type evidence struct {
	inc      *incident
	total    float64
	since    time.Duration
	time     float64
	entity   float64
	entityBy string // what the entity evidence is
	name     float64
	nameBy   string
	co       float64
	coBy     string
	stranger bool
	related  bool // a shared subject value or a graph path: not strangers
}

// score is the logistic of the evidence: the number reasons print.
func (ev *evidence) score() float64 { return 1 / (1 + math.Exp(-ev.total)) }

// timeEvidence fades with the time since the incident's last activity.
func (e *Engine) timeEvidence(d time.Duration) float64 {
	return timeNow - timeFall*math.Log1p(float64(d)/float64(e.cfg.TimeScale))
}

// weigh gathers the evidence that inc should take the alert.
func (e *Engine) weigh(in *alertInfo, inc *incident, own bool, at time.Time) evidence {
	ev := evidence{inc: inc, since: at.Sub(inc.lastActivity)}
	if own && inc.status == quell.IncidentResolved {
		ev.since = at.Sub(inc.resolvedAt) // its problem went away that long ago
	}
	ev.time = e.timeEvidence(ev.since)
	if own {
		ev.entity, ev.entityBy = sameAlert, "the same alert was part of it"
	}
	// Shared entity values, weighted by rarity.
	share := func(ref entityRef, subject bool) {
		for _, t := range ref.tokens {
			if inc.tokens[t] == 0 {
				continue
			}
			w := contextShare
			if subject || inc.subjects[t] > 0 {
				w = subjectShare
				ev.related = true
			}
			if v := w * e.rarity.info(t); v > ev.entity {
				ev.entity = v
				ev.entityBy = fmt.Sprintf("shares %s (%d of %d alerts carry it)", ref, e.rarity.df[t], e.rarity.total)
			}
		}
	}
	share(in.subject, true)
	for _, c := range in.context {
		share(c, false)
	}
	// Graph distance, graded.
	if len(in.nodes) > 0 && len(inc.nodes) > 0 {
		if d, from, to, ok := e.graph.nearest(in.nodes, inc.nodes); ok && hopEvidence[d] > ev.entity {
			ev.related = true
			ev.entity = hopEvidence[d]
			if d == 0 {
				ev.entityBy = "on graph node " + e.graph.name(from)
			} else {
				ev.entityBy = fmt.Sprintf("%d hops (%s)", d, e.graph.path(e.graph.from(from), to))
			}
		}
	}
	// Names and summaries.
	if inc.names[in.name] > 0 {
		ev.name, ev.nameBy = nameShare*e.rarity.info(in.name), "same alertname"
	}
	if len(in.words) > 0 {
		var shared, all float64
		for _, w := range in.words {
			r := e.rarity.info(w)
			all += r
			if inc.words[w] > 0 {
				shared += r
			}
		}
		if v := nameShare * maxInfo * shared / all; shared > 0 && v > ev.name {
			ev.name, ev.nameBy = v, fmt.Sprintf("summary %.0f%% alike", 100*shared/all)
		}
	}
	// Co-firing learned online.
	if _, n, share := e.co.with(in.sig, inc.sigs); n > 1 {
		ev.co = coShare * share * min(1, float64(n)/coCount)
		ev.coBy = fmt.Sprintf("co-fired %d times before", n)
	}
	// A stranger: about another workload than the incident, and nothing
	// relates the two. Time alone does not pull it in while the incident is
	// about one or two workloads; a problem that spread further is one
	// where a stranger arriving now most likely belongs. Machines are never
	// strangers: a host's trouble shows on what runs there.
	if !own && !in.infra && !ev.related && ev.co == 0 && len(inc.workloads) >= 1 && len(inc.workloads) < 3 {
		ev.stranger = true
	}
	ev.total = prior + ev.entity + ev.name + ev.co
	if ev.stranger {
		ev.total += stranger
	} else {
		ev.total += ev.time
	}
	return ev
}

// reason tells the evidence, e.g. "score 0.81: 2 hops (a -> b -> c), 14s
// after the incident's last alert, co-fired 31 times before".
func (ev *evidence) reason() string {
	var parts []string
	if ev.entityBy != "" {
		parts = append(parts, ev.entityBy)
	}
	if ev.stranger {
		parts = append(parts, fmt.Sprintf("about another workload, %s after the incident's last alert", ev.since.Round(time.Second)))
	} else {
		parts = append(parts, fmt.Sprintf("%s after the incident's last alert", ev.since.Round(time.Second)))
	}
	if ev.coBy != "" {
		parts = append(parts, ev.coBy)
	}
	if ev.nameBy != "" {
		parts = append(parts, ev.nameBy)
	}
	return fmt.Sprintf("score %.2f: %s", ev.score(), strings.Join(parts, ", "))
}
