package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/internal/pipeline"
	"github.com/quellhq/quell/sinks"
)

func sinkCmd(ctx context.Context, args []string) error {
	env, err := loadSplitStage(ctx, "sink", `Usage: quell sink --kafka BROKERS [flags]
Runs the sink stage of split mode: consumes the decisions topic, and the
incidents topic when a webhook, an ITSM tool or ClickHouse is configured,
and feeds the sinks (the --decisions log file, the webhooks, the ITSM
tools, ClickHouse). Offsets are committed only once the sinks hold the records;
redelivered copies are dropped by decision identity and incident change seq.
`, args)
	if err != nil {
		return err
	}
	ss, err := env.sinks()
	if err != nil {
		return err
	}
	mux := env.mux()
	if err := env.mountAPI(mux, nil, nil, api.Details{}); err != nil {
		return err
	}
	err = runAll(ctx,
		func(ctx context.Context) error { return serveHTTP(ctx, env, mux) },
		func(ctx context.Context) error { return runSinks(ctx, env, ss) },
	)
	return errors.Join(err, closeSinks(env, ss, drainTimeout))
}

// dedupeLimit bounds the sink stage's memory of delivered records (see pipeline.Dedupe).
const dedupeLimit = 1 << 20

// runSinks feeds the decisions topic, and the incidents topic when a sink
// takes changes, to ss until ctx ends.
func runSinks(ctx context.Context, env *stageEnv, ss []sinks.Sink) error {
	k := env.cfg.Kafka
	dd := pipeline.NewDedupe(dedupeLimit)
	decisions, err := kafka.NewConsumer[quell.Decision](kafka.ConsumerConfig{Brokers: k.Brokers, Topic: env.names.Decisions,
		GroupID: k.Prefix + "-sink-decisions", DeadLetterTopic: env.names.DeadLetter, Logger: env.log})
	if err != nil {
		return err
	}
	runs := []func(context.Context) error{feed(env, ss, decisions, dd.FreshDecisions,
		func(ds []quell.Decision) sinks.Batch { return sinks.Batch{Decisions: ds} })}
	if !env.cfg.TakesChanges() {
		// Every change carries its incident's alerts: reading them for no
		// sink took a third of a core under load.
		env.log.Info("no sink takes incident changes; the incidents topic is not read", "topic", env.names.Incidents)
		return runAll(ctx, runs...)
	}
	changes, err := kafka.NewConsumer[quell.IncidentChange](kafka.ConsumerConfig{Brokers: k.Brokers, Topic: env.names.Incidents,
		GroupID: k.Prefix + "-sink-incidents", DeadLetterTopic: env.names.DeadLetter, Logger: env.log})
	if err != nil {
		return err
	}
	runs = append(runs, feed(env, ss, changes, dd.FreshChanges,
		func(cs []quell.IncidentChange) sinks.Batch { return sinks.Batch{Changes: cs} }))
	return runAll(ctx, runs...)
}

// feed hands what c reads to ss, less the copies fresh drops, and marks
// records delivered only once every sink holds them.
func feed[T any](env *stageEnv, ss []sinks.Sink, c *kafka.Consumer[T], fresh func([]T) ([]T, func()), batch func([]T) sinks.Batch) func(context.Context) error {
	return func(ctx context.Context) error {
		return c.Subscribe(ctx, func(ctx context.Context, recs []T) error {
			recs, delivered := fresh(recs)
			if err := writeSinks(ctx, env, ss, batch(recs)); err != nil {
				return err
			}
			delivered()
			return nil
		})
	}
}

// writeSinks hands b to every sink, retrying one that fails until it takes
// the batch or ctx ends: the offsets wait, so nothing is skipped. A sink
// that already took the batch may get it again; sinks are idempotent.
func writeSinks(ctx context.Context, env *stageEnv, ss []sinks.Sink, b sinks.Batch) error {
	if len(b.Decisions) == 0 && len(b.Changes) == 0 {
		return nil
	}
	for _, s := range ss {
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := s.Write(ctx, b)
			if err == nil {
				break
			}
			env.log.Warn("sink did not take the batch; retrying", "sink", s.Name(), "err", err, "backoff", backoff)
			select {
			case <-ctx.Done():
				return fmt.Errorf("sink %s: %w", s.Name(), err)
			case <-time.After(backoff):
			}
		}
	}
	return nil
}
