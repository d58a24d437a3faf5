package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/internal/history"
	"github.com/quellhq/quell/internal/journal"
	"github.com/quellhq/quell/internal/lograte"
	"github.com/quellhq/quell/internal/pipeline"
	"github.com/quellhq/quell/internal/timeline"
	"github.com/quellhq/quell/sinks"
)

// Timings of the running service.
const (
	tickEvery     = 200 * time.Millisecond // the embedded correlator's clock
	snapshotEvery = 30 * time.Second       // the embedded correlator's state to the data dir
	drainTimeout  = 30 * time.Second       // how long shutdown may take to deliver what is queued
	// Embedded mode stops within Kubernetes' 30 s grace: at most backlogWait
	// deciding accepted alerts (the journal keeps the rest) and sinkWait
	// delivering what the sinks hold (the rest is dead-lettered).
	backlogWait   = 10 * time.Second
	sinkWait      = 10 * time.Second
	holdWait      = 10 * time.Second // how long a save waits for the sinks to deliver what it covers
	logEvery      = 10 * time.Second // a repeating failure is logged once per this, with a count
	embeddedQueue = 100000           // alerts accepted and not yet correlated, in embedded mode
	journalMax    = 64 << 20         // journal bytes that make the embedded mode save its state early: a restart handles at most that much again
	// journalPerState: past journalMax, a save waits until the journal holds
	// this many times the saved state's bytes. A save costs what the state
	// holds and lets go of what the journal holds: in a storm over a large
	// state, saving at a fixed journal size spent a quarter of the CPU.
	journalPerState = 4
)

func serve(ctx context.Context, args []string) error {
	var instance *string
	env, err := loadStage("serve", `Usage: quell serve [flags]
Runs every stage in one process: HTTP ingest (Alertmanager, Prometheus,
Datadog, Splunk), dedupe and correlation, the sinks (webhooks, ITSM tools,
ClickHouse, the decision log), the API (incidents, feedback, Alertmanager's
read API and silences, the ITSM tools' webhooks back) and the console for
people at http://<listen>/.
With no servers configured it needs nothing else: the stages share an
in-process bus and state is kept in --data-dir. With --kafka the same
stages run joined by Kafka topics, exactly as 'quell ingest', 'quell
correlate' and 'quell sink' would run them in separate processes.
`, args, func(fs *flag.FlagSet) { instance = instanceIDFlag(fs) })
	if err != nil {
		return err
	}
	if env.kafka() {
		return serveKafka(ctx, env, *instance)
	}
	return serveEmbedded(ctx, env)
}

// serveKafka runs ingest, correlator and sinks in one process over Kafka.
func serveKafka(ctx context.Context, env *stageEnv, instance string) error {
	if err := env.ensureTopics(ctx); err != nil {
		return err
	}
	env.watchLag()
	ss, err := env.sinks()
	if err != nil {
		return err
	}
	mux := env.mux()
	flush, err := mountIngest(env, mux)
	if err != nil {
		return err
	}
	set := pipeline.NewSet(env.reg, env.log, env.topo)
	env.setTopology = set.SetTopology
	act, closeFeedback := env.splitFeedback(set)
	defer closeFeedback()
	if err := env.mountAPI(mux, set, act, api.Details{Graph: set.Neighbourhood}); err != nil {
		return err
	}
	err = runAll(ctx,
		func(ctx context.Context) error { return errors.Join(serveHTTP(ctx, env, mux), flush()) },
		func(ctx context.Context) error { return runCorrelator(ctx, env, set, instance) },
		func(ctx context.Context) error { return runSinks(ctx, env, ss) },
	)
	return errors.Join(err, closeSinks(env, ss, drainTimeout))
}

// serveEmbedded runs every stage on the in-process bus, with the state in
// the data dir. It listens at once: until the journal is handled again,
// ingest answers 503 with Retry-After and /readyz is not ready.
func serveEmbedded(ctx context.Context, env *stageEnv) error {
	cfg, log := env.cfg, env.log
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	ss, err := env.sinks()
	if err != nil {
		return err
	}
	set := pipeline.NewSet(env.reg, env.log, env.topo)
	var src api.Source = set
	if cfg.History > 0 {
		hist, err := history.Open(cfg.DataDir, cfg.History, env.budget.HistoryBytes())
		if err != nil {
			return err
		}
		ss = append(ss, hist)
		src = history.Reader{Live: set, History: hist}
	}
	tl, err := timeline.Open(cfg.DataDir, env.budget.TimelineBytes())
	if err != nil {
		return err
	}
	ss = append(ss, tl)
	pipe, err := set.New(0, cfg.Correlate, ss)
	if err != nil {
		return err
	}
	jrn, err := journal.Open(cfg.DataDir, cfg.Journal.Sync, cfg.Journal.SyncInterval, log)
	if err != nil {
		return err
	}
	defer jrn.Close()
	mem := bus.NewMemory(embeddedQueue, env.budget.QueueBytes(), jrn)
	registerQueue(env.reg, mem)
	var started atomic.Bool
	env.readiers = append(env.readiers, readyFunc(func() error {
		if !started.Load() {
			return errors.New("starting: handling again the alerts accepted before the last stop")
		}
		if err := jrn.Err(); err != nil {
			return fmt.Errorf("ingest cannot write its journal in %s: %w", cfg.DataDir, err)
		}
		return nil
	}))
	handle := func(ctx context.Context, e bus.Entry) error {
		switch {
		case e.Feedback != nil:
			return pipe.Feedback(ctx, e.Feedback)
		case e.IsTick():
			return pipe.Tick(ctx, e.Tick)
		}
		return pipe.Handle(ctx, e.Alerts)
	}
	// checkpoint saves the state with the journal position it covers and
	// the sinks' marks there, then drops what the journal no longer needs.
	// The state is copied while no entry is handled; it is written once the
	// sinks that hold output in memory have finished what it covers, since
	// a restart gives them only what comes after.
	checkpoint := func() error {
		var snap correlate.Snapshot
		var handled int64
		marks := map[string]int64{}
		var holding []func() bool
		mem.Checkpoint(func(pos int64) error {
			snap, handled = pipe.Snapshot(), pos
			for _, s := range ss {
				if r, ok := s.(sinks.Resumer); ok {
					marks[r.Name()] = r.Mark()
				}
				if h, ok := s.(sinks.Holder); ok {
					holding = append(holding, h.Holding())
				}
			}
			return nil
		})
		if !finished(holding, holdWait) {
			return errors.New("a sink is still delivering what the state would cover (is its receiver down?); the journal keeps every alert until it has")
		}
		if err := pipeline.SaveFile(cfg.DataDir, snap, handled, marks); err != nil {
			return err
		}
		return jrn.Cut(handled)
	}
	mux := env.mux()
	ing, err := ingest.NewHandler(cfg.Ingest, mem, dedupe.NewFingerprinter(cfg.IdentityLabels), log, env.reg)
	if err != nil {
		return err
	}
	env.handleIngest(mux, ing)
	if err := env.mountAPI(mux, src, awaitFeedback(&set.Outcomes, mem.Feedback), api.Details{Timeline: tl.Of, Graph: set.Neighbourhood}); err != nil {
		return err
	}
	// The HTTP server stops first (ingest drains its requests into the bus);
	// then the bus delivers what it accepted, then state is saved and every
	// sink flushed.
	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	served := make(chan error, 1)
	go func() { served <- serveHTTP(httpCtx, env, mux) }()

	// The journal holds what was accepted since the saved state: handle it
	// again first, in its order and at its times, so a crash loses nothing
	// that was answered 2xx and decides it as before.
	began := time.Now()
	input, marks, err := pipeline.RestoreFile(cfg.DataDir, pipe, log)
	if err == nil {
		err = resume(ss, marks)
	}
	replayed := 0
	if err == nil {
		err = jrn.Replay(input, func(e bus.Entry) error {
			replayed += len(e.Alerts)
			return handle(ctx, e)
		})
	}
	if err != nil {
		stopHTTP()
		<-served
		return fmt.Errorf("handling the journal again: %w", err)
	}
	if replayed > 0 {
		log.Info("handled again the alerts accepted after the last saved state", "alerts", replayed, "took", time.Since(began).Round(time.Millisecond))
	}
	saveFailed := lograte.New(log, slog.LevelError, "saving the correlator's state failed; the journal keeps every alert until a save succeeds", logEvery)
	mem.Start(jrn.End())
	if input == 0 {
		// No saved state yet: one saved now gives the sinks' logs a mark
		// before anything can be written to them twice. It is small.
		if err := checkpoint(); err != nil {
			saveFailed.Log("err", err)
		}
	}
	started.Store(true)

	consumed := make(chan error, 1)
	go func() { consumed <- mem.Subscribe(context.Background(), handle) }()
	tickCtx, stopTicks := context.WithCancel(context.Background())
	defer stopTicks()
	tickFailed := lograte.New(log, slog.LevelError, "journaling the clock failed; decisions wait until it can", logEvery)
	go every(tickCtx, tickEvery, func() {
		// The clock moves through the journal; a full disk stops it (and
		// ingest) until a write succeeds again.
		if err := mem.Tick(time.Now()); err != nil {
			tickFailed.Log("err", err)
		}
	})
	// A new topology takes effect between two journal entries, and the
	// state is saved right after: a restart replays what follows with it.
	var saveNow atomic.Bool
	env.reloading.Lock()
	env.setTopology = func(topo *correlate.Topology) error {
		if err := mem.Checkpoint(func(int64) error { return pipe.SetTopology(topo) }); err != nil {
			return err
		}
		saveNow.Store(true)
		return nil
	}
	env.reloading.Unlock()
	// The next save comes a second after the start, while alerts flow: it
	// makes the next restart start from here.
	var lastSave time.Time
	stateBytes := pipeline.StateSize(cfg.DataDir)
	go every(tickCtx, time.Second, func() {
		// Save on schedule, sooner when a storm grows the journal, and at
		// once when the journal cannot write: the cut frees its space.
		if time.Since(lastSave) < snapshotEvery && jrn.Size() < max(journalMax, journalPerState*stateBytes) && jrn.Err() == nil && !saveNow.Swap(false) {
			return
		}
		lastSave = time.Now()
		if err := checkpoint(); err != nil {
			saveFailed.Log("err", err)
		}
		stateBytes = pipeline.StateSize(cfg.DataDir)
	})

	var runErr error
	select {
	case runErr = <-served:
	case err := <-consumed:
		stopHTTP()
		<-served
		return fmt.Errorf("correlator stopped: %w", err)
	}
	log.Info("shutting down: draining accepted alerts")
	stopTicks()
	if err := mem.Tick(time.Now()); err != nil { // the last decisions leave now, not after their wait
		log.Error("moving the clock for the last decisions", "err", err)
	}
	mem.Close()
	select {
	case err := <-consumed:
		if err != nil {
			log.Error("correlator failed while draining", "err", err)
		}
	case <-time.After(backlogWait):
		// Stop within Kubernetes' grace period: the journal keeps what is
		// left, and the next start decides it.
		left := mem.Stop()
		log.Warn("stopped before deciding every accepted alert; the journal keeps them for the next start", "alerts", left)
		if err := <-consumed; err != nil {
			// A batch stopped half-way (a sink that did not take it): the
			// state is past the journal position, so it is not saved; the
			// last save and the journal decide it all again.
			log.Warn("not saving the state: a batch was stopped half-way", "err", err)
			return errors.Join(runErr, closeSinks(env, ss, sinkWait))
		}
	}
	// The sinks deliver (or dead-letter) what they hold first; then the
	// saved state covers what was decided and the journal the rest.
	cerr := closeSinks(env, ss, sinkWait)
	serr := checkpoint()
	log.Info("stopped")
	return errors.Join(runErr, cerr, serr)
}

// readyFunc is a readiness check (see sinks.Readier).
type readyFunc func() error

func (f readyFunc) Ready() error { return f() }

// finished waits up to timeout for every check to report done.
func finished(checks []func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for _, done := range checks {
		for !done() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return true
}

// resume tells each sink that keeps a log where the saved state left it,
// so that handling the journal again writes nothing twice.
func resume(ss []sinks.Sink, marks map[string]int64) error {
	for _, s := range ss {
		r, ok := s.(sinks.Resumer)
		if mark, marked := marks[s.Name()]; ok && marked {
			if err := r.Resume(mark); err != nil {
				return err
			}
		}
	}
	return nil
}
