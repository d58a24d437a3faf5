package correlate

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// alertInfo is what relates an alert to others, computed once per
// fingerprint: an alert's identity labels do not change between occurrences.
type alertInfo struct {
	scope uint64
	// refs are its entity values: the subject (the entity the alert is
	// about: its first entity label, in EntityLabels order) and what the
	// subject is named after, refs[:about], then context: the exporter's
	// job or instance, the namespace, the callee of a failing call.
	refs     []entityRef
	about    int
	infra    bool     // the subject is a machine (host, node, IP), not a workload
	partial  bool     // the graph, at its bound, refused a node or edge it names (see makeGraphRoom)
	host     int32    // the graph node of the machine a workload runs on, -1 for none
	workload uint64   // the subject's token that names its workload
	name     uint64   // alertname token
	words    []uint64 // summary word tokens
	// The rarity of its name and words as of the alert's placement (see
	// Engine.rate): rarity moves as alerts come and go.
	nameInfo  float64
	wordInfos []float64
	wordsInfo float64 // their sum
	nodes     []int32 // graph nodes of the subject (and a call's peer)
	sig       uint64  // signature for co-occurrence: alertname and subject
	// inc is the incident the alert is in (the newest, while a resolved
	// one holds it too), nil when none: kept here rather than in a map of
	// its own, which every new alert would grow.
	inc *incident
}

// entityRef is one entity value: its tokens (the value, and for a pod its
// workload) and where it came from, for reasons.
type entityRef struct {
	label, value string
	tokens       []uint64
	infos        []float64 // each token's rarity (see Engine.rate)
}

func (r entityRef) String() string { return r.label + "=" + r.value }

// inspect computes what relates a to other alerts, once per fingerprint.
func (e *Engine) inspect(a *quell.Alert) *alertInfo {
	if in := e.infos[a.Fingerprint]; in != nil {
		return in
	}
	in := &alertInfo{scope: Scope(e.cfg.ScopeLabels, a), host: -1}
	// One array for every token (values, then summary words), one for
	// their rarities and one for the values: an alert seen for the first
	// time costs few allocations, and what it keeps is what the state's
	// bytes count.
	type span struct {
		label, value string
		lo, hi       int
		about        bool
	}
	var tokBuf [48]uint64
	var spanBuf [16]span
	toks, spans := tokBuf[:0], spanBuf[:0]
	for _, k := range e.cfg.EntityLabels { // configured order: the first present is the subject
		if v := a.Labels[k]; v != "" {
			lo := len(toks)
			toks = appendEntityTokens(toks, k, v)
			spans = append(spans, span{k, v, lo, len(toks), false})
		}
	}
	if len(spans) > 0 {
		subj := &spans[0]
		subj.about, in.about = true, 1
		in.workload = toks[subj.hi-1]
		// A host label may name a pod (Splunk's host field): then it is a workload.
		in.infra = hostLabels[subj.label] && subj.hi-subj.lo == 1 || isMachine(subj.value)
		for i := 1; i < len(spans); i++ {
			// The service a pod is named after is what the alert is about
			// too (pod checkout-api-x2k, service checkout); a service the
			// pod is not named after (the exporter's) is context.
			if sp := &spans[i]; !in.infra && !contextLabels[sp.label] && namedAfter(subj.value, sp.value) {
				sp.about = true
				in.about++
				in.workload = toks[sp.lo]
			}
		}
	}
	values := len(toks)
	toks = appendWordTokens(toks, a.Annotations["summary"])
	all, infos := slices.Clone(toks), make([]float64, len(toks))
	in.refs = make([]entityRef, 0, len(spans))
	for _, about := range []bool{true, false} {
		for _, sp := range spans {
			if sp.about == about {
				in.refs = append(in.refs, entityRef{label: sp.label, value: sp.value, tokens: all[sp.lo:sp.hi:sp.hi], infos: infos[sp.lo:sp.hi:sp.hi]})
			}
		}
	}
	in.words, in.wordInfos = all[values:], infos[values:]
	name := a.Labels["alertname"]
	in.name = hash("\x00name\x00", name, "")
	in.sig = hash(name, " on ", in.subject().value)
	e.graph.learn(a, in, e.cfg.TopologyLabels)
	e.infos[a.Fingerprint] = in
	return in
}

// incidentOf is the incident alert fp is in, or nil.
func (e *Engine) incidentOf(fp quell.Fingerprint) *incident {
	if in := e.infos[fp]; in != nil {
		return in.inc
	}
	return nil
}

// subject is the entity the alert is about; its tokens are nil when the
// alert has no entity label.
func (in *alertInfo) subject() entityRef {
	if in.about == 0 {
		return entityRef{}
	}
	return in.refs[0]
}

// subjects are the subject and what it is named after.
func (in *alertInfo) subjects() []entityRef { return in.refs[:in.about] }

// context are the entity values the alert is not about.
func (in *alertInfo) context() []entityRef { return in.refs[in.about:] }

// rate computes the rarity of the alert's tokens once for its placement,
// rather than once per candidate. A value no alert in an incident carries
// relates the alert to none: its evidence is nil, and it finds no
// candidate (most values of a storm of distinct alerts are such).
func (e *Engine) rate(in *alertInfo) {
	for _, ref := range in.refs {
		for i, t := range ref.tokens {
			ref.infos[i] = 0
			if n := e.rarity.df[t]; n > 0 {
				ref.infos[i] = e.rarity.infoOf(n)
			}
		}
	}
	in.nameInfo = e.rarity.info(in.name)
	in.wordsInfo = 0
	for i, w := range in.words {
		in.wordInfos[i] = e.rarity.info(w)
		in.wordsInfo += in.wordInfos[i]
	}
}

// hostLabels name machines; other entity labels name workloads.
var hostLabels = map[string]bool{"host": true, "node": true, "instance": true}

// contextLabels are never what an alert is about: where it runs (the
// namespace) or what it called (the peer).
var contextLabels = map[string]bool{"namespace": true, "peer_service": true, "host": true, "node": true, "instance": true}

// namedAfter tells whether subject (a pod's or container's name) is named
// after v: it is v, or starts with v and a dash.
func namedAfter(subject, v string) bool {
	s, v := strings.ToLower(subject), strings.ToLower(stripPort(v))
	return s == v || len(s) > len(v) && strings.HasPrefix(s, v) && s[len(v)] == '-'
}

// isMachine tells whether a value names a machine rather than a workload:
// an IP address (with or without a port) or a cloud host name.
func isMachine(v string) bool {
	v = stripPort(v)
	// Only what could be an address is parsed: a failed parse allocates its
	// error, and most values are names.
	if v != "" && ('0' <= v[0] && v[0] <= '9' || strings.IndexByte(v, ':') >= 0) {
		if _, err := netip.ParseAddr(v); err == nil {
			return true
		}
	}
	return strings.HasPrefix(v, "ip-") && strings.Count(v, "-") >= 4
}

// appendEntityTokens appends the tokens of one entity value: the value as
// written (lowercased, without a port) and, for a pod, its workload.
func appendEntityTokens(out []uint64, label, v string) []uint64 {
	n := strings.ToLower(stripPort(v))
	out = append(out, xxhash.Sum64String(n))
	if w := workload(label, n); w != "" {
		out = append(out, xxhash.Sum64String(w))
	}
	return out
}

// hash is the xxhash of a+b+c, without building the string.
func hash(a, b, c string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(a)
	d.WriteString(b)
	d.WriteString(c)
	return d.Sum64()
}

// workload names the workload of a pod name, or "" for other values. A
// Deployment's pod is name-<ReplicaSet hash>-<suffix> ("cart-7d9f8b6c5-x2k4p"
// -> "cart"); a StatefulSet's or DaemonSet's is name-<ordinal or suffix>.
// Kubernetes draws hashes and suffixes from an alphabet without vowels,
// which tells them from words; the short forms count only under a label
// that names pods.
func workload(label, v string) string {
	rest, suffix, ok := cutLast(v)
	if !ok {
		return ""
	}
	podLabel := label == "pod" || label == "pod_name"
	switch {
	case len(suffix) == 5 && isPodHash(suffix):
		if name, hash, ok := cutLast(rest); ok && len(hash) >= 8 && len(hash) <= 10 && isPodHash(hash) {
			return name
		}
		if podLabel {
			return rest
		}
	case podLabel && len(suffix) <= 3 && isDigits(suffix):
		return rest
	}
	return ""
}

func cutLast(v string) (string, string, bool) {
	i := strings.LastIndexByte(v, '-')
	if i <= 0 || i == len(v)-1 {
		return "", "", false
	}
	return v[:i], v[i+1:], true
}

func isPodHash(s string) bool {
	for i := 0; i < len(s); i++ {
		if !podHashChars[s[i]] {
			return false
		}
	}
	return true
}

// podHashChars are the characters Kubernetes draws pod and ReplicaSet
// name suffixes from (no vowels, no 0, 1 or 3).
var podHashChars = func() (t [256]bool) {
	for _, c := range "bcdfghjklmnpqrstvwxz2456789" {
		t[c] = true
	}
	return t
}()

// stripPort drops a port ("host:9100" names "host", "[fe80::1]:9100"
// "fe80::1"); an IPv6 address without brackets has none.
func stripPort(v string) string {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 || !isDigits(v[i+1:]) {
		return v
	}
	host := v[:i]
	if strings.IndexByte(host, ':') < 0 {
		return host
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return v
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendWordTokens appends the distinct words of a summary (letters only,
// three or more), at most 16: enough to tell "disk full on db-1" from
// "latency high".
func appendWordTokens(out []uint64, s string) []uint64 {
	start := len(out)
	for w := range strings.FieldsFuncSeq(strings.ToLower(s), func(r rune) bool { return r < 'a' || r > 'z' }) {
		if len(w) < 3 || len(out)-start == 16 {
			continue
		}
		t := hash("\x00word\x00", w, "")
		if !contains(out[start:], t) {
			out = append(out, t)
		}
	}
	return out
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Scope returns the partition key of a: a hash of its scope label values.
func Scope(scopeLabels []string, a *quell.Alert) uint64 {
	var d xxhash.Digest
	d.Reset()
	for _, k := range scopeLabels {
		d.WriteString(a.Labels[k])
		d.Write([]byte{0xff})
	}
	return d.Sum64()
}
