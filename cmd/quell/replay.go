package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/config"
	"github.com/quellhq/quell/internal/replay"
	"github.com/quellhq/quell/sinks"
)

func replayCmd(args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell replay [--config FILE] [--topology FILE] [--decisions OUT] [--compare OTHER.yml] FILE...

Reads files of alert payloads, one JSON document a line (an Alertmanager
webhook message, or a v2 alerts array), runs them through the same dedupe and
correlation code as 'quell serve' in event time (the alerts' own timestamps),
and writes one decision record a line for every alert occurrence. A line
{"feedback": {...}} is a person's acknowledgement or correction, applied at
its "at" as the API would (see the README's Feedback).

With --compare, it also runs the same alerts under a second configuration
and prints what moved: incidents under each, and every alert that changed
incident, with the reason each configuration gave. The decision log (of
--config) is then written only to a --decisions file.

`)
		fs.PrintDefaults()
	}
	cf := commonFlags(fs)
	out := fs.String("decisions", "-", "where the decision log goes (- is standard output)")
	other := fs.String("compare", "", "a second configuration file to compare the grouping with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("replay needs at least one FILE")
	}
	cfg, topo, err := cf.load()
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	var c io.Closer
	if *other != "" && *out == "-" {
		w = io.Discard // standard output is the comparison's
	}
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		w, c = f, f
	}
	log := sinks.NewDecisionLog(w, c)
	fp := dedupe.NewFingerprinter(cfg.IdentityLabels)
	var alerts []quell.Alert
	var feedback []quell.Feedback
	for _, path := range fs.Args() {
		a, f, err := replay.ReadFile(path, fp)
		if err != nil {
			return err
		}
		alerts, feedback = append(alerts, a...), append(feedback, f...)
	}
	var batch sinks.Batch
	if batch.Decisions, err = decide(cfg.Correlate, topo, slices.Clone(alerts), slices.Clone(feedback)); err != nil {
		return err
	}
	ctx := context.Background()
	if err := log.Write(ctx, batch); err != nil {
		return err
	}
	if err := log.Close(ctx); err != nil {
		return err
	}
	if *other == "" {
		return nil
	}
	ocfg, err := config.Load(*other)
	if err != nil {
		return err
	}
	if err := ocfg.Validate(); err != nil {
		return err
	}
	otopo := topo
	if ocfg.Topology != "" && ocfg.Topology != cfg.Topology && *cf.topology == "" {
		if otopo, err = correlate.LoadTopology(ocfg.Topology); err != nil {
			return err
		}
	}
	b, err := decide(ocfg.Correlate, otopo, slices.Clone(alerts), slices.Clone(feedback))
	if err != nil {
		return err
	}
	nameA := *cf.config
	if nameA == "" {
		nameA = "defaults"
	}
	return replay.Compare(batch.Decisions, b).Print(os.Stdout, nameA, *other)
}

// decide runs alerts and feedback through a correlator with cfg and
// returns its decisions; feedback that does not apply there is named on
// standard error.
func decide(cfg correlate.Config, topo *correlate.Topology, alerts []quell.Alert, feedback []quell.Feedback) ([]quell.Decision, error) {
	var ds []quell.Decision
	eng, err := correlate.New(cfg, topo, correlate.Output{Decision: func(d quell.Decision) { ds = append(ds, d) }})
	if err != nil {
		return nil, err
	}
	for _, err := range replay.Run(alerts, feedback, eng) {
		fmt.Fprintln(os.Stderr, "quell replay: not applied:", err)
	}
	return ds, nil
}
