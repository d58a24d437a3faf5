package main

import (
	"flag"
	"fmt"
	"log/slog"

	"github.com/quellhq/quell/internal/config"
	"github.com/quellhq/quell/internal/journal"
	"github.com/quellhq/quell/internal/pipeline"
)

func journalCmd(args []string) error {
	fs := flag.NewFlagSet("journal", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell journal check|salvage [--data-dir DIR | --config FILE]

The journal keeps, in the data dir, every alert embedded mode accepted
since its last saved state. Run these while quell is stopped.

  check    reads the journal and says whether it is intact, damaged only at
           its end (a torn last write, which the next start cuts off), or
           damaged in the middle, which stops quell from starting.
  salvage  rewrites the journal as every intact record after the saved
           state, so that quell starts again; the original segments are
           moved to a damaged-journal-* folder in the data dir, not deleted.

`)
		fs.PrintDefaults()
	}
	cfgPath := fs.String("config", "", "YAML configuration file, for its data_dir")
	dataDir := fs.String("data-dir", "", "the data dir (default the config file's data_dir, or quell-data)")
	if len(args) == 0 || (args[0] != "check" && args[0] != "salvage") {
		fs.Usage()
		return fmt.Errorf("journal needs check or salvage")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	from, _, err := pipeline.RestoreFile(cfg.DataDir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if args[0] == "check" {
		r, err := journal.Check(cfg.DataDir, from)
		if err != nil {
			return err
		}
		fmt.Println("journal in", cfg.DataDir+":", r)
		if r.Damaged > 0 && !r.Torn {
			return fmt.Errorf("the journal is damaged: run 'quell journal salvage --data-dir %s'", cfg.DataDir)
		}
		return nil
	}
	r, err := journal.Salvage(cfg.DataDir, from)
	if err != nil {
		return err
	}
	fmt.Println("journal in", cfg.DataDir, "salvaged:", r)
	return nil
}
