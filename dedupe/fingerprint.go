// Package dedupe gives every alert its identity and tracks each identity's
// state: repeats, resolves and flapping.
package dedupe

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/quellhq/quell"
)

// Fingerprinter computes quell's alert identity: xxhash64 over the source and
// the sorted identity labels. By default every label counts, as in
// Alertmanager; IdentityLabels narrows it per source (Datadog tags, say, carry
// values that change from one notification to the next).
type Fingerprinter struct {
	// IdentityLabels maps a source to the label names that identify its alerts.
	IdentityLabels map[string][]string
}

// Fingerprint returns the identity of a; it does not modify a.
func (f *Fingerprinter) Fingerprint(a *quell.Alert) quell.Fingerprint {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(a.Source)
	d.Write(sep)
	if only, ok := f.IdentityLabels[a.Source]; ok {
		// NewFingerprinter sorted only, so the hash does not depend on config order.
		for _, k := range only {
			if v := a.Labels[k]; v != "" {
				writePair(&d, k, v)
			}
		}
		return quell.Fingerprint(d.Sum64())
	}
	type pair struct{ k, v string }
	var stack [32]pair
	pairs := stack[:0]
	for k, v := range a.Labels {
		if v != "" { // an empty label is no label, as in Prometheus
			pairs = append(pairs, pair{k, v})
		}
	}
	slices.SortFunc(pairs, func(p, q pair) int { return strings.Compare(p.k, q.k) })
	for _, p := range pairs {
		writePair(&d, p.k, p.v)
	}
	return quell.Fingerprint(d.Sum64())
}

// NewFingerprinter copies and sorts the per-source identity label lists.
func NewFingerprinter(identity map[string][]string) *Fingerprinter {
	m := make(map[string][]string, len(identity))
	for src, names := range identity {
		s := slices.Clone(names)
		slices.Sort(s)
		m[src] = slices.Compact(s)
	}
	return &Fingerprinter{IdentityLabels: m}
}

var sep = []byte{0xff}

// writePair writes k and v with separators that cannot occur in UTF-8 text,
// so {"ab":"c"} and {"a":"bc"} hash differently.
func writePair(d *xxhash.Digest, k, v string) {
	d.WriteString(k)
	d.Write(sep)
	d.WriteString(v)
	d.Write(sep)
}
