package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/internal/replay"
	"github.com/quellhq/quell/sinks"
)

func replayCmd(args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell replay [--config FILE] [--topology FILE] [--decisions OUT] FILE...

Reads files of alert payloads, one JSON document a line (an Alertmanager
webhook message, or a v2 alerts array), runs them through the same dedupe and
correlation code as 'quell serve' in event time (the alerts' own timestamps),
and writes one decision record a line for every alert occurrence.

`)
		fs.PrintDefaults()
	}
	cf := commonFlags(fs)
	out := fs.String("decisions", "-", "where the decision log goes (- is standard output)")
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
	for _, path := range fs.Args() {
		a, err := replay.ReadFile(path, fp)
		if err != nil {
			return err
		}
		alerts = append(alerts, a...)
	}
	var batch sinks.Batch
	eng, err := correlate.New(cfg.Correlate, topo, correlate.Output{
		Decision: func(d quell.Decision) { batch.Decisions = append(batch.Decisions, d) },
	})
	if err != nil {
		return err
	}
	replay.Run(alerts, eng)
	ctx := context.Background()
	if err := log.Write(ctx, batch); err != nil {
		return err
	}
	return log.Close(ctx)
}
