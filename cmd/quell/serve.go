package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/internal/pipeline"
	"github.com/quellhq/quell/sinks"
)

// Timings of the running service.
const (
	tickEvery     = 200 * time.Millisecond // how often the correlator's clock moves when no alert arrives
	snapshotEvery = 30 * time.Second
	drainTimeout  = 30 * time.Second // how long shutdown may take to deliver what is queued
)

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: quell serve [flags]

Runs every stage in one process: HTTP ingest (Alertmanager, Prometheus,
Datadog, Splunk), dedupe and correlation, outgoing webhooks, and the API.
With no servers configured it needs nothing else: state is kept in --data-dir.

`)
		fs.PrintDefaults()
	}
	cf := commonFlags(fs)
	listen := fs.String("listen", "", "HTTP listen address (default :9095, or the config file's listen)")
	dataDir := fs.String("data-dir", "", "folder for state snapshots and dead letters (default quell-data)")
	decisions := fs.String("decisions", "", "also append the decision log to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, topo, err := cf.load()
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *decisions != "" {
		cfg.Decisions = *decisions
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	dead := sinks.NewDeadLetters(cfg.DataDir)
	var ss []sinks.Sink
	if cfg.Decisions != "" {
		f, err := os.OpenFile(cfg.Decisions, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("decision log: %w", err)
		}
		ss = append(ss, sinks.NewDecisionLog(f, f))
	}
	for _, wc := range cfg.Webhooks {
		w, err := sinks.NewWebhook(wc, dead, log, reg)
		if err != nil {
			return err
		}
		ss = append(ss, w)
	}
	pipe, err := pipeline.New(cfg.Correlate, topo, cfg.DataDir, ss, log, reg)
	if err != nil {
		return err
	}

	mem := bus.NewMemory(1024)
	ing, err := ingest.NewHandler(cfg.Ingest, mem, dedupe.NewFingerprinter(cfg.IdentityLabels), log, reg)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	for _, p := range ingest.Paths {
		mux.Handle(p, ing)
	}
	api.Register(mux, pipe, func() error { return nil })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("quell serving", "listen", ln.Addr().String(), "data_dir", cfg.DataDir, "topology", cfg.Topology)

	consumed := make(chan error, 1)
	go func() { consumed <- pipe.Subscribe(context.Background(), mem) }()
	tickCtx, stopTicks := context.WithCancel(context.Background())
	go pipe.Run(tickCtx, tickEvery)
	go snapshots(tickCtx, pipe, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err := <-served:
		stopTicks()
		return fmt.Errorf("http server: %w", err)
	case err := <-consumed:
		stopTicks()
		return fmt.Errorf("correlator stopped: %w", err)
	}

	// Drain in order: stop taking requests, let the bus deliver what it
	// accepted, decide it, then save state and flush every sink.
	log.Info("shutting down: draining accepted alerts")
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	mem.Close()
	if err := <-consumed; err != nil {
		log.Error("correlator failed while draining", "err", err)
	}
	stopTicks()
	if err := pipe.Tick(sctx, time.Now()); err != nil {
		log.Error("delivering the last decisions", "err", err)
	}
	serr := pipe.Snapshot()
	cerr := pipe.Close(sctx)
	log.Info("stopped")
	return errors.Join(serr, cerr)
}

// snapshots saves the correlator's state regularly, so a crash loses little.
func snapshots(ctx context.Context, pipe *pipeline.Pipeline, log *slog.Logger) {
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := pipe.Snapshot(); err != nil {
				log.Error("snapshot failed", "err", err)
			}
		}
	}
}
