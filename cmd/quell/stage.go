package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/amapi"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/budget"
	"github.com/quellhq/quell/internal/bus"
	"github.com/quellhq/quell/internal/config"
	"github.com/quellhq/quell/internal/console"
	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/silence"
	"github.com/quellhq/quell/sinks"
	"github.com/quellhq/quell/sinks/clickhouse"
	"github.com/quellhq/quell/sinks/itsm"
)

// loadStage parses a stage command's flags (usage heads its --help) and
// loads its configuration.
func loadStage(name, usage string, args []string, more ...func(*flag.FlagSet)) (*stageEnv, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	sf := newStageFlags(fs)
	for _, add := range more { // the stage's own flags
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return sf.load()
}

// loadSplitStage is loadStage for a stage that only exists over Kafka: it
// also creates the topics that are missing, so any stage may start first.
func loadSplitStage(ctx context.Context, name, usage string, args []string, more ...func(*flag.FlagSet)) (*stageEnv, error) {
	env, err := loadStage(name, usage, args, more...)
	if err != nil {
		return nil, err
	}
	if !env.kafka() {
		return nil, fmt.Errorf("%s runs one stage of split mode and needs Kafka: pass --kafka BROKERS (or set kafka.brokers); 'quell serve' runs every stage without it", name)
	}
	env.watchLag()
	return env, env.ensureTopics(ctx)
}

// watchLag measures how far split mode's consumer groups are behind, for
// /metrics and ingest's back-pressure.
func (env *stageEnv) watchLag() {
	k := env.cfg.Kafka
	// Every second: between two measures ingest takes alerts at its full
	// rate, so a longer interval lets the backlog overshoot kafka.max_delay.
	env.lag = kafka.NewLagMonitor(k.Brokers, kafka.Consumptions(k.Prefix, env.names, env.cfg.TakesChanges()), time.Second, env.log)
	env.reg.MustRegister(env.lag)
}

// stageFlags are the flags of serve and the split stages; they override the config file.
type stageFlags struct {
	common
	listen, dataDir, decisions, kafka, clickhouse, pprof *string
	webhookTokens, apiTokens                             *stringsFlag
	tlsCert, tlsKey                                      *string
}

// stringsFlag collects a flag given several times.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func newStageFlags(fs *flag.FlagSet) stageFlags {
	sf := stageFlags{
		common:     commonFlags(fs),
		listen:     fs.String("listen", "", "HTTP listen address (default :9095, or the config file's listen)"),
		dataDir:    fs.String("data-dir", "", "folder for state snapshots (embedded mode) and dead letters (default quell-data)"),
		decisions:  fs.String("decisions", "", "also append the decision log to this file"),
		kafka:      fs.String("kafka", "", "Kafka bootstrap brokers, comma-separated (host:port,...): join the stages over Kafka (or the config file's kafka.brokers)"),
		clickhouse: fs.String("clickhouse", "", "ClickHouse native DSN (clickhouse://host:9000/db): also write alerts, incidents and decisions there (or the config file's clickhouse.dsn; run 'quell migrate' first)"),
		pprof:      fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty"),
		tlsCert:    fs.String("tls-cert-file", "", "PEM certificate: serve HTTPS (with --tls-key-file; or ingest.tls_cert_file)"),
		tlsKey:     fs.String("tls-key-file", "", "PEM private key of --tls-cert-file"),
	}
	sf.webhookTokens, sf.apiTokens = new(stringsFlag), new(stringsFlag)
	fs.Var(sf.webhookTokens, "webhook-token-file", "file of tokens (one a line) the ingest routes require, as a Bearer token, basic-auth password or ?token=; repeat for several files (adds to ingest.webhook_token_files)")
	fs.Var(sf.apiTokens, "api-token-file", "file of tokens the read API (/api/v1/...) requires; repeat for several (adds to api_token_files)")
	return sf
}

// stageEnv is what every stage runs with: configuration, logs, metrics.
type stageEnv struct {
	cfg   config.Config
	topo  *correlate.Topology
	log   *slog.Logger
	reg   *prometheus.Registry
	names kafka.Names
	dead  *sinks.DeadLetters // what every sink of this process gave up on
	// readiers are this process's sinks that can be full (see sinks.Readier).
	readiers []sinks.Readier
	// servesIngest and servesAPI say which routes this process mounted.
	servesIngest, servesAPI bool
	budget                  *budget.Budget    // memory_limit
	lag                     *kafka.LagMonitor // split mode: the consumer groups' lag
	// silences: those of the configuration and those made through the
	// API, applied by this process's ITSM sinks and shown by its API.
	silences *silence.Store
	// tickets lists an incident's tickets opened by this process's ITSM
	// sinks (nil: it runs none); itsmStore holds them.
	tickets   func(id string) []itsm.TicketLink
	itsmStore *itsm.Store
	// What a reload replaces (see reload): the configuration read again
	// with the flags over it, and the tokens in force (nil where this
	// process serves no such routes).
	reread    func() (config.Config, *correlate.Topology, error)
	reloading sync.Mutex
	// setTopology puts a reloaded topology in force (nil: this process
	// does not correlate).
	setTopology              func(*correlate.Topology) error
	webhookTokens, apiTokens *ingest.TokenSet
}

// config reads the configuration file with the flags applied over it, as
// at start and at every reload.
func (sf stageFlags) config() (config.Config, *correlate.Topology, error) {
	cfg, topo, err := sf.common.load()
	if err != nil {
		return cfg, nil, err
	}
	if *sf.listen != "" {
		cfg.Listen = *sf.listen
	}
	if *sf.dataDir != "" {
		cfg.DataDir = *sf.dataDir
	}
	if *sf.decisions != "" {
		cfg.Decisions = *sf.decisions
	}
	if *sf.kafka != "" {
		cfg.Kafka.Brokers = strings.Split(*sf.kafka, ",")
	}
	cfg.Ingest.WebhookTokenFiles = append(cfg.Ingest.WebhookTokenFiles, *sf.webhookTokens...)
	cfg.APITokenFiles = append(cfg.APITokenFiles, *sf.apiTokens...)
	if *sf.tlsCert != "" || *sf.tlsKey != "" {
		cfg.Ingest.TLSCertFile, cfg.Ingest.TLSKeyFile = *sf.tlsCert, *sf.tlsKey
		if err := cfg.Ingest.Validate(); err != nil {
			return cfg, nil, err
		}
	}
	if *sf.clickhouse != "" {
		cfg.ClickHouse.DSN = *sf.clickhouse
		if err := cfg.ClickHouse.Validate(); err != nil {
			return cfg, nil, err
		}
	}
	if err := cfg.Kafka.Validate(); err != nil {
		return cfg, nil, err
	}
	return cfg, topo, nil
}

func (sf stageFlags) load() (*stageEnv, error) {
	cfg, topo, err := sf.config()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	limit := int64(cfg.MemoryLimit)
	if limit == 0 {
		limit = budget.DefaultLimit()
	}
	silences, err := silence.NewStore(cfg.ITSM.Silences, filepath.Join(cfg.DataDir, "silences.json"))
	if err != nil {
		return nil, err
	}
	env := &stageEnv{cfg: cfg, topo: topo, log: slog.New(slog.NewTextHandler(os.Stderr, nil)), reg: reg,
		names: kafka.NamesFor(cfg.Kafka.Prefix), dead: sinks.NewDeadLetters(cfg.DataDir), budget: budget.New(limit), silences: silences,
		reread: sf.config}
	registerBudget(reg, env.budget)
	env.cfg.Correlate.MaxStateBytes = env.budget.StateBytes()
	env.cfg.ClickHouse.MaxBufferedBytes = env.budget.SinkBytes()
	if *sf.pprof != "" {
		go servePprof(env, *sf.pprof)
	}
	return env, nil
}

func (env *stageEnv) kafka() bool { return len(env.cfg.Kafka.Brokers) > 0 }

// ensureTopics creates the topics that are missing, so any stage may start first.
func (env *stageEnv) ensureTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	k := env.cfg.Kafka
	return kafka.EnsureTopics(ctx, k.Brokers, kafka.Topics(env.names, k.Partitions, k.Replication), env.log)
}

// ready is /readyz: memory is within its budget, every sink that can be
// full has room, and with Kafka the brokers answer.
func (env *stageEnv) ready() error {
	if env.budget.Full() {
		return fmt.Errorf("memory near its budget (memory_limit %d bytes, %d live)", env.budget.Limit(), env.budget.Live())
	}
	for _, s := range env.readiers {
		if err := s.Ready(); err != nil {
			return err
		}
	}
	if !env.kafka() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return kafka.Ping(ctx, env.cfg.Kafka.Brokers)
}

// readyBehind is ingest's /readyz: ready as any stage, and the correlator
// no more than kafka.max_delay behind.
func (env *stageEnv) readyBehind() error {
	if err := env.ready(); err != nil {
		return err
	}
	return env.behind()
}

// behind fails while the correlator is more than kafka.max_delay behind.
func (env *stageEnv) behind() error {
	if d := env.cfg.Kafka.MaxDelay; d > 0 && env.lag != nil {
		return env.lag.Late(d)
	}
	return nil
}

// mux serves /metrics; the stages mount their routes beside it.
func (env *stageEnv) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(env.reg, promhttp.HandlerOpts{Registry: env.reg}))
	return mux
}

// sinks builds the configured sinks: the decision log file, the webhooks,
// the ITSM tools and ClickHouse.
func (env *stageEnv) sinks() ([]sinks.Sink, error) {
	cfg := env.cfg
	var ss []sinks.Sink
	if cfg.Decisions != "" {
		d, err := sinks.OpenDecisionLog(cfg.Decisions)
		if err != nil {
			return nil, err
		}
		ss = append(ss, d)
	}
	for _, wc := range cfg.Webhooks {
		w, err := sinks.NewWebhook(wc, env.dead, env.log, env.reg)
		if err != nil {
			return nil, err
		}
		ss = append(ss, w)
	}
	if cfg.ITSM.Enabled() {
		store, err := itsm.OpenStore(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		its, err := itsm.New(cfg.ITSM, store, env.silences, env.dead, env.log, env.reg)
		if err != nil {
			return nil, err
		}
		ss = append(ss, its...)
		env.tickets = func(id string) []itsm.TicketLink { return cfg.ITSM.Links(store, id) }
		env.itsmStore = store
	}
	if cfg.ClickHouse.DSN != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := clickhouse.Open(ctx, cfg.ClickHouse.DSN)
		if err != nil {
			return nil, err
		}
		ch, err := clickhouse.NewSink(ctx, conn, cfg.ClickHouse, env.dead, env.log, env.reg)
		if err != nil {
			return nil, err
		}
		ss = append(ss, ch)
	}
	for _, s := range ss {
		if r, ok := s.(sinks.Readier); ok {
			env.readiers = append(env.readiers, r)
		}
	}
	return ss, nil
}

// handleIngest serves the ingest routes with h, within the memory budget.
func (env *stageEnv) handleIngest(mux *http.ServeMux, h *ingest.Handler) {
	h.UseBudget(env.budget)
	env.webhookTokens = h.Tokens()
	for _, p := range ingest.Paths {
		mux.Handle(p, h)
	}
	env.servesIngest = true
}

// mountAPI serves the read API behind the API tokens when configured:
// incidents and Alertmanager's alert routes (when this process correlates:
// src not nil), feedback (when it can act on it: act not nil), the dead
// letters of this process's sinks, and silences. Health probes stay open.
func (env *stageEnv) mountAPI(mux *http.ServeMux, src api.Source, act api.Act, details api.Details) error {
	tokens, err := ingest.LoadTokens(env.cfg.APITokenFiles...)
	if err != nil {
		return fmt.Errorf("api_token_files: %w", err)
	}
	ready := env.ready
	if env.servesIngest {
		ready = env.readyBehind
	}
	api.RegisterHealth(mux, ready)
	env.servesAPI = true
	env.apiTokens = ingest.NewTokenSet(tokens)
	apiMux := http.NewServeMux()
	reading := api.NewReaders()
	var alerts amapi.Source
	if src != nil {
		api.Register(apiMux, src, reading)
		alerts = src
	}
	if act != nil {
		api.RegisterFeedback(apiMux, src, act)
		if env.itsmStore != nil {
			// What people do with the tickets comes back as feedback: it
			// needs both the tickets and the correlator (serve).
			env.cfg.ITSM.Inbound(mux, env.itsmStore, itsm.Act(act))
		}
	}
	details.Tickets = env.tickets
	api.RegisterDetails(apiMux, details)
	api.RegisterDeadLetters(apiMux, env.dead.List)
	amapi.Register(apiMux, alerts, env.silences, time.Now(), reading)
	mux.Handle("/api/v1/", ingest.RequireToken(env.apiTokens, apiMux))
	if src != nil {
		// The page asks for the API token itself: its files hold no data.
		console.Register(mux)
	}
	mux.Handle("POST /-/reload", ingest.RequireToken(env.apiTokens, http.HandlerFunc(env.reloadHandler)))
	// Alertmanager's read API and silences; POST /api/v2/alerts stays
	// ingest's (a method makes these patterns the more specific).
	for _, p := range []string{"GET /api/v2/alerts", "GET /api/v2/alerts/groups", "GET /api/v2/status", "GET /api/v2/receivers",
		"/api/v2/silences", "/api/v2/silence/"} {
		mux.Handle(p, ingest.RequireToken(env.apiTokens, apiMux))
	}
	return nil
}

// registerBudget exports the memory budget and what it holds.
func registerBudget(reg prometheus.Registerer, b *budget.Budget) {
	gauge := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	reg.MustRegister(
		gauge("quell_memory_limit_bytes", "The memory budget (memory_limit).", b.Limit),
		gauge("quell_memory_live_bytes", "Heap bytes live after the last collection: the correlator's state, queues and buffers.", b.Live),
		gauge("quell_memory_pending_bytes", "What the ingest requests being handled are reckoned to cost.", b.Pending),
	)
}

// registerQueue exports how full the queue between ingest and the
// correlator is: full, ingest waits for the correlator.
func registerQueue(reg prometheus.Registerer, mem *bus.Memory) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "quell_queue_alerts", Help: "Alerts accepted and not yet correlated (embedded mode)."},
			func() float64 { n, _ := mem.Queued(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "quell_queue_bytes", Help: "The bytes of the alerts accepted and not yet correlated; ingest waits while this is at its share of memory_limit."},
			func() float64 { _, b := mem.Queued(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "quell_queue_max_bytes", Help: "The queue's share of memory_limit."},
			func() float64 { return float64(mem.MaxBytes()) }),
	)
}

// servePprof serves Go's profiler on its own address, apart from the API.
func servePprof(env *stageEnv, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	env.log.Info("profiler serving", "listen", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		env.log.Error("profiler stopped", "err", err)
	}
}

// closeSinks delivers what the sinks queued, within timeout.
func closeSinks(env *stageEnv, ss []sinks.Sink, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, s := range ss {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing sink %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// serveHTTP serves mux on the configured address until ctx ends, then
// finishes the requests in flight (ingest's: until the bus accepted them).
func serveHTTP(ctx context.Context, env *stageEnv, mux *http.ServeMux) error {
	ln, err := net.Listen("tcp", env.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; pick another address with --listen", env.cfg.Listen, err)
	}
	srv, err := env.cfg.Ingest.Server(mux, env.log)
	if err != nil {
		ln.Close()
		return err
	}
	env.log.Info("quell serving", "listen", ln.Addr().String(), "data_dir", env.cfg.DataDir, "topology", env.cfg.Topology,
		"kafka", strings.Join(env.cfg.Kafka.Brokers, ","))
	warnOpen(env, ln.Addr())
	env.watchReload(ctx)
	served := make(chan error, 1)
	go func() { served <- ingest.Serve(srv, ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// warnOpen warns when the routes answer anyone beyond this machine: quell,
// like Alertmanager, is open by default, which an operator should know.
func warnOpen(env *stageEnv, addr net.Addr) {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	if env.servesIngest && len(env.cfg.Ingest.WebhookTokenFiles) == 0 {
		env.log.Warn("the ingest routes accept alerts from anyone who can reach this address: set ingest.webhook_token_files (--webhook-token-file), or listen on 127.0.0.1", "listen", addr.String())
	}
	if env.servesAPI && len(env.cfg.APITokenFiles) == 0 {
		env.log.Warn("the read API (/api/v1/) answers anyone who can reach this address: set api_token_files (--api-token-file), or listen on 127.0.0.1", "listen", addr.String())
	}
}

// runAll runs fns until ctx ends or one fails, which stops the others.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			if errs[i] = fn(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
