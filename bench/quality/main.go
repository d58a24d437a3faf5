// Command quality measures how well quell groups alerts into incidents, with
// the default config: on MicroSS (real fault-labelled alerts, embedded) and
// on synthetic storms from a seeded generator, several systems of every
// topology family, with faults one after another and several at once. It
// scores each as the data set's faultalerts.py does (pairwise F1 per alert;
// per alert episode when faults overlap) beside the naive baseline, one
// incident per burst with no five-minute gap, and reports the worst family.
// MicroSS is also scored reshaped (quality.Variants): reported more
// sparsely, without traces, without its topology file; the generated
// systems whose alerts are an anomaly detector's, reported more sparsely.
//
//	go run ./bench/quality                    # a table, then each family's worst, median and systems below baseline
//	go run ./bench/quality -seeds 24          # the same over 24 systems per family and overlay
//	go run ./bench/quality -json              # one JSON object a line
//	go run ./bench/quality -noise 10m,1m,30s  # the noisy family at these rates
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/quality"
)

// row is one scored stream.
type row struct {
	quality.Result
	Seed     uint64  `json:"seed,omitempty"`
	Baseline float64 `json:"baseline_f1"`
}

func main() {
	asJSON := flag.Bool("json", false, "print one JSON object a line instead of a table")
	seeds := flag.Int("seeds", 3, "generated systems per family and overlay")
	overlays := flag.String("overlay", "1,3", "comma-separated numbers of faults at once")
	noise := flag.String("noise", "", "comma-separated mean times between unrelated problems (10m,1m,30s): score the noisy family at each instead of every family and MicroSS")
	flag.Parse()
	if err := run(*asJSON, *seeds, *overlays, *noise); err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

func run(asJSON bool, seeds int, overlays, noise string) error {
	var ovs []int
	for _, s := range strings.Split(overlays, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			return fmt.Errorf("--overlay %q: want numbers of at least 1", overlays)
		}
		ovs = append(ovs, k)
	}
	families, err := noisy(noise)
	if err != nil {
		return err
	}
	cfg := correlate.DefaultConfig()
	out := printer{json: asJSON}
	out.header()
	if families == nil { // every family, and MicroSS first
		families = quality.Families
		for _, k := range ovs {
			s, err := quality.MicroSS(k)
			if err != nil {
				return err
			}
			if err := out.score(s, 0, cfg); err != nil {
				return err
			}
			if err := out.variants(s, 0, "", cfg, func(quality.Variant) bool { return true }); err != nil {
				return err
			}
		}
	}
	for _, f := range families {
		for _, k := range ovs {
			for seed := uint64(1); seed <= uint64(seeds); seed++ {
				s := quality.Storm(f, k, seed)
				if err := out.score(s, seed, cfg); err != nil {
					return err
				}
				if !f.Detections {
					continue
				}
				if err := out.variants(s, seed, f.Name+" ", cfg, func(v quality.Variant) bool { return v.Detections }); err != nil {
					return err
				}
			}
		}
	}
	out.footer(ovs)
	return nil
}

// noisy is the noisy family once for each mean time between unrelated
// problems in list (none for an empty list).
func noisy(list string) ([]quality.Family, error) {
	if list == "" {
		return nil, nil
	}
	var base quality.Family
	for _, f := range quality.Families {
		if f.Name == "noisy" {
			base = f
		}
	}
	var out []quality.Family
	for _, s := range strings.Split(list, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--noise %q: want durations such as 10m,1m,30s", list)
		}
		f := base
		f.Name = "noisy-" + d.String()
		f.MinNoise, f.MaxNoise = d.Milliseconds(), d.Milliseconds()
		out = append(out, f)
	}
	return out, nil
}

type printer struct {
	json      bool
	generated []row // the generated streams' rows, in the order scored, for the footer
}

func (p *printer) score(s quality.Set, seed uint64, cfg correlate.Config) error {
	res, err := quality.Evaluate(s, cfg)
	if err != nil {
		return err
	}
	r := row{Result: res, Seed: seed, Baseline: quality.ScoreAssign(s, quality.Window(s.Events, 5*60*1000)).F1}
	if s.Data != "MicroSS" {
		p.generated = append(p.generated, r)
	}
	if p.json {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	fmt.Printf("%-9s %-22s %4d %7d %6.3f %9.3f %6.3f %9d %6d %8d %8.3f\n", r.Data, r.Family, r.Seed, r.Overlay, r.F1,
		r.Precision, r.Recall, r.Incidents, r.Faults, r.Alerts, r.Baseline)
	return nil
}

// variants scores s reshaped by each variant that keep keeps, its family
// named prefix and the variant's name.
func (p *printer) variants(s quality.Set, seed uint64, prefix string, cfg correlate.Config, keep func(quality.Variant) bool) error {
	for _, v := range quality.Variants {
		if !keep(v) {
			continue
		}
		vs := v.Apply(s)
		vs.Family = prefix + v.Name
		if err := p.score(vs, seed, cfg); err != nil {
			return err
		}
	}
	return nil
}

// median is the middle of xs (the mean of the two middle ones for an even
// count); it sorts xs.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func (p *printer) header() {
	if !p.json {
		fmt.Printf("%-9s %-22s %4s %7s %6s %9s %6s %9s %6s %8s %8s\n", "data", "family", "seed", "overlay", "f1",
			"precision", "recall", "incidents", "faults", "alerts", "baseline")
	}
}

// worst is the row of rows with the lowest F1 (the first of equals).
func worst(rows []row) row {
	w := rows[0]
	for _, r := range rows[1:] {
		if r.F1 < w.F1 {
			w = r
		}
	}
	return w
}

func (p *printer) footer(ovs []int) {
	if p.json {
		return
	}
	// Per family and overlay, in the order first scored: the worst system,
	// the median, how many score below their own baseline, and the
	// baselines' mean: the figures defaults are chosen on.
	type key struct {
		family  string
		overlay int
	}
	var order []key
	groups := map[key][]row{}
	for _, r := range p.generated {
		k := key{r.Family, r.Overlay}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	fmt.Printf("\n%-22s %7s %7s %6s %4s %6s %5s %8s\n", "family", "overlay", "systems", "worst", "seed", "median", "below", "baseline")
	for _, k := range order {
		rows := groups[k]
		f1s := make([]float64, len(rows))
		below, base := 0, 0.0
		for i, r := range rows {
			f1s[i] = r.F1
			if r.F1 < r.Baseline {
				below++
			}
			base += r.Baseline
		}
		w := worst(rows)
		fmt.Printf("%-22s %7d %7d %6.3f %4d %6.3f %5d %8.3f\n", k.family, k.overlay, len(rows), w.F1, w.Seed,
			median(f1s), below, base/float64(len(rows)))
	}
	for _, k := range ovs {
		var rows []row
		for _, r := range p.generated {
			if r.Overlay == k {
				rows = append(rows, r)
			}
		}
		if len(rows) > 0 {
			w := worst(rows)
			fmt.Printf("worst generated, overlay %d: %s seed %d, f1 %.3f (baseline %.3f)\n", k, w.Family, w.Seed, w.F1, w.Baseline)
		}
	}
}
