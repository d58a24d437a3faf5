package correlate

import "math"

// rarity counts how many of the alerts in quell's incidents carry each
// token (entity value, alertname, summary word). A value nearly every alert
// carries (namespace=prod) tells nothing when two alerts share it; a value
// few carry (one pod's name) tells a lot. The counts follow the incidents
// quell holds, so they are rebuilt exactly from a snapshot.
type rarity struct {
	df    map[uint64]int32
	total int32
}

func newRarity() *rarity { return &rarity{df: map[uint64]int32{}} }

func (r *rarity) add(in *alertInfo, delta int32) {
	r.total += delta
	for _, ref := range in.subjects() {
		for _, t := range ref.tokens {
			r.count(t, delta)
		}
	}
	for _, c := range in.context() {
		for _, t := range c.tokens {
			r.count(t, delta)
		}
	}
	r.count(in.name, delta)
	for _, t := range in.words {
		r.count(t, delta)
	}
}

// count adds delta alerts carrying t.
func (r *rarity) count(t uint64, delta int32) {
	if n := r.df[t] + delta; n > 0 {
		r.df[t] = n
	} else {
		delete(r.df, t)
	}
}

// info is the evidence, in nats, that two alerts sharing token t belong
// together: -ln of the chance that an alert carries it, smoothed so that
// the first alerts seen do not make every value look rare, and capped.
func (r *rarity) info(t uint64) float64 { return r.infoOf(r.df[t]) }

// infoOf is the info of a token n alerts carry.
func (r *rarity) infoOf(n int32) float64 {
	p := (float64(n) + 1) / (float64(r.total) + 2)
	return min(maxInfo, -math.Log(p))
}

// maxInfo caps the evidence of one shared value: past ~1 in 30 alerts,
// rarer says no more.
const maxInfo = 3.4
