// Command quality measures correlation quality on fault-labelled alerts: it
// converts a data set of rca-fault-alerts to an Alertmanager webhook stream
// (with the data set's own faultalerts.py), replays it through quell with the
// system's topology, and scores the decision log with the same script:
// pairwise precision, recall, F1 and compression, sequential and overlaid.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/bench/cputime"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/replay"
)

func main() {
	data := flag.String("data", "../shared/datasets/rca-fault-alerts", "folder of the rca-fault-alerts data set (holds faultalerts.py)")
	system := flag.String("system", "MicroSS", "system of the data set to replay")
	overlays := flag.String("overlay", "1,3", "comma-separated overlays to score (1 = faults one after another)")
	keep := flag.String("keep", "", "folder to keep the converted streams and decision logs in")
	flag.Parse()
	if err := run(*data, *system, strings.Split(*overlays, ","), *keep); err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

func run(data, system string, overlays []string, keep string) error {
	script := filepath.Join(data, "faultalerts.py")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("data set not found: %w (set --data)", err)
	}
	dir := keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "quell-quality-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	topo, err := correlate.LoadTopology(filepath.Join(data, system, "kg.json"))
	if err != nil {
		return err
	}
	fmt.Printf("%-8s %-8s %9s %7s %7s %7s %11s %9s %13s\n", "system", "overlay", "precision", "recall", "f1", "faults", "incidents", "compress", "alerts/cpu-s")
	for _, ov := range overlays {
		stream := filepath.Join(dir, fmt.Sprintf("%s-overlay%s.jsonl", system, ov))
		decisions := filepath.Join(dir, fmt.Sprintf("%s-overlay%s.decisions.jsonl", system, ov))
		if err := python(stream, script, "convert", system, "--overlay", ov); err != nil {
			return err
		}
		rate, err := replayFile(stream, decisions, topo)
		if err != nil {
			return err
		}
		var out strings.Builder
		cmd := exec.Command("python3", script, "score", system, decisions, "--overlay", ov)
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("scoring: %w", err)
		}
		var s struct {
			Precision, Recall, F1, Compression float64
			Incidents, Faults                  int
		}
		if err := json.Unmarshal([]byte(out.String()), &s); err != nil {
			return fmt.Errorf("score output %q: %w", out.String(), err)
		}
		fmt.Printf("%-8s %-8s %9.4f %7.4f %7.4f %7d %11d %9.4f %13.0f\n", system, ov, s.Precision, s.Recall, s.F1, s.Faults, s.Incidents, s.Compression, rate)
	}
	return nil
}

func python(outPath, script string, args ...string) error {
	f, err := os.Create(outPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("python3", append([]string{script}, args...)...)
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("python3 %s %s: %w", script, strings.Join(args, " "), err)
	}
	return nil
}

// replayFile replays one stream with the default configuration and writes
// its decision log; it returns the alerts dedupe and correlation handled per
// second of CPU time (the best of several rounds: the data set is small).
func replayFile(stream, decisionsPath string, topo *correlate.Topology) (float64, error) {
	alerts, err := replay.ReadFile(stream, dedupe.NewFingerprinter(nil))
	if err != nil {
		return 0, err
	}
	f, err := os.Create(decisionsPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	var decisions []quell.Decision
	eng, err := correlate.New(correlate.DefaultConfig(), topo, correlate.Output{
		Decision: func(d quell.Decision) { decisions = append(decisions, d) },
	})
	if err != nil {
		return 0, err
	}
	rate := 0.0
	for round := 0; round < 5; round++ {
		in := slices.Clone(alerts)
		e, err := correlate.New(correlate.DefaultConfig(), topo, correlate.Output{Decision: func(quell.Decision) {}})
		if err != nil {
			return 0, err
		}
		start := cputime.Now()
		replay.Run(in, e)
		rate = max(rate, float64(len(in))/(cputime.Now()-start).Seconds())
	}
	replay.Run(alerts, eng)
	for i := range decisions {
		decisions[i].Alert.Raw = nil
		if err := enc.Encode(&decisions[i]); err != nil {
			return 0, err
		}
	}
	return rate, w.Flush()
}
