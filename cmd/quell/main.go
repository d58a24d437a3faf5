// Command quell ingests alerts from monitoring tools, deduplicates them,
// groups related alerts into incidents, and explains every grouping.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `quell: alert ingestion and correlation

Usage:
  quell serve     [flags]          run every stage in one process (HTTP ingest, correlator, sinks, API, console);
                                   with --kafka BROKERS they are joined by Kafka topics instead of memory
  quell ingest    --kafka BROKERS  split mode: HTTP ingest, publishing alerts to Kafka
  quell correlate --kafka BROKERS  split mode: correlate alerts from Kafka into incidents and decisions
  quell sink      --kafka BROKERS  split mode: deliver decisions and incident changes from Kafka to the sinks
  quell replay    [flags] FILE...  run recorded alert payloads through dedupe and correlation in event time
  quell migrate   --clickhouse DSN create or upgrade quell's ClickHouse schema
  quell journal   check|salvage    check or repair the embedded mode's journal in the data dir
  quell health    [--url URL]      exit 0 when a running quell answers its health probe

Run 'quell COMMAND --help' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(ctx, args)
	case "ingest":
		err = ingestCmd(ctx, args)
	case "correlate":
		err = correlateCmd(ctx, args)
	case "sink":
		err = sinkCmd(ctx, args)
	case "replay":
		err = replayCmd(args)
	case "migrate":
		err = migrateCmd(ctx, args)
	case "journal":
		err = journalCmd(args)
	case "health":
		err = healthCmd(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "quell: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quell:", err)
		os.Exit(1)
	}
}
