package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/dedupe"
	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/kafka"
)

func ingestCmd(ctx context.Context, args []string) error {
	env, err := loadSplitStage(ctx, "ingest", `Usage: quell ingest --kafka BROKERS [flags]
Runs the ingest stage of split mode: the HTTP webhooks (Alertmanager,
Prometheus, Datadog, Splunk) normalize and fingerprint alerts and publish
them to the alerts topic, keyed by correlation scope. A request is answered
2xx only once every in-sync replica holds its alerts, and 503 with
Retry-After while the correlator needs longer than kafka.max_delay to catch
up. Run as many instances as the traffic needs, behind one load balancer.
`, args)
	if err != nil {
		return err
	}
	mux := env.mux()
	flush, err := mountIngest(env, mux)
	if err != nil {
		return err
	}
	api.RegisterHealth(mux, env.readyBehind)
	return errors.Join(serveHTTP(ctx, env, mux), flush())
}

// mountIngest mounts the webhooks on mux, publishing to the alerts topic.
// flush, called once HTTP stopped, waits for the producer's writes.
func mountIngest(env *stageEnv, mux *http.ServeMux) (flush func() error, err error) {
	cfg := env.cfg
	scope := cfg.Correlate.ScopeLabels
	pub, err := kafka.NewAlertPublisher(kafka.ProducerConfig{Brokers: cfg.Kafka.Brokers, Topic: env.names.Alerts, Logger: env.log},
		func(a *quell.Alert) []byte { return scopeKey(scope, a) })
	if err != nil {
		return nil, err
	}
	h, err := ingest.NewHandler(cfg.Ingest, pub, dedupe.NewFingerprinter(cfg.IdentityLabels), env.log, env.reg)
	if err != nil {
		pub.Close()
		return nil, err
	}
	h.UseBackPressure(env.behind)
	env.handleIngest(mux, h)
	return pub.Close, nil
}

// scopeKey is the alerts topic's record key: the alert's correlation scope,
// so alerts that may meet in one incident meet in one partition.
func scopeKey(labels []string, a *quell.Alert) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), correlate.Scope(labels, a))
}
