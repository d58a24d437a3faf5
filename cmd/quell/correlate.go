package main

import (
	"context"
	"errors"
	"flag"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/internal/pipeline"
)

func correlateCmd(ctx context.Context, args []string) error {
	var instance *string
	env, err := loadSplitStage(ctx, "correlate", `Usage: quell correlate --kafka BROKERS [flags]
Runs the correlator stage of split mode: consumes the alerts topic as a
member of the consumer group <prefix>-correlate, deduplicates and groups
alerts into incidents (one engine per assigned partition), and publishes
decisions and incident changes to their topics. Each partition's state is
kept in the state topic as small records written as they change, with a
checkpoint every kafka.snapshot_every that covers only acknowledged output;
it follows the partition to whichever instance owns it.
Serves the incidents and feedback API (for its own partitions) and metrics
on --listen.
`, args, func(fs *flag.FlagSet) { instance = instanceIDFlag(fs) })
	if err != nil {
		return err
	}
	mux := env.mux()
	set := pipeline.NewSet(env.reg, env.log, env.topo)
	env.setTopology = set.SetTopology
	act, closeFeedback := env.splitFeedback(set)
	defer closeFeedback()
	if err := env.mountAPI(mux, set, act, api.Details{Graph: set.Neighbourhood}); err != nil {
		return err
	}
	return runAll(ctx,
		func(ctx context.Context) error { return serveHTTP(ctx, env, mux) },
		func(ctx context.Context) error { return runCorrelator(ctx, env, set, *instance) },
	)
}

// runCorrelator correlates the alerts topic's assigned partitions into set
// until ctx ends; each partition saves its state before it returns.
func runCorrelator(ctx context.Context, env *stageEnv, set *pipeline.Set, instance string) error {
	k := env.cfg.Kafka
	out, err := kafka.NewOutputs(k.Brokers, env.names, env.log)
	if err != nil {
		return err
	}
	pc, err := kafka.NewPartitioned(kafka.PartitionedConfig{
		Brokers: k.Brokers, Names: env.names, GroupID: k.Prefix + "-correlate", InstanceID: instance,
		TickEvery: k.TickEvery, SnapshotEvery: k.SnapshotEvery, Logger: env.log, Metrics: env.reg,
	})
	if err != nil {
		return err
	}
	// The partitions' engines share the correlator's state share of memory_limit.
	cfg := env.cfg.Correlate
	cfg.StateBudget = &correlate.StateBudget{}
	parts := &pipeline.Partitions{Set: set, Config: cfg, Out: out}
	err = pc.Run(ctx, parts.Open)
	return errors.Join(err, out.Close(context.Background()))
}
