package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/quellhq/quell/ingest"
	"github.com/quellhq/quell/internal/config"
)

// reload reads the configuration file (and token and topology files)
// again, with the flags over it, and puts in force what can change while
// quell runs: the webhook and API tokens, the configured silences and the
// topology. It names the sections that changed otherwise: they take effect
// at the next start. A configuration that does not load is refused whole,
// and the running one kept.
func (env *stageEnv) reload() (applied, restart []string, err error) {
	env.reloading.Lock()
	defer env.reloading.Unlock()
	cfg, topo, err := env.reread()
	if err != nil {
		return nil, nil, err
	}
	// Everything is read and checked before anything changes.
	var webhook, api ingest.Tokens
	if env.webhookTokens != nil {
		if webhook, err = ingest.LoadTokens(cfg.Ingest.WebhookTokenFiles...); err != nil {
			return nil, nil, fmt.Errorf("ingest.webhook_token_files: %w", err)
		}
	}
	if env.apiTokens != nil {
		if api, err = ingest.LoadTokens(cfg.APITokenFiles...); err != nil {
			return nil, nil, fmt.Errorf("api_token_files: %w", err)
		}
	}
	if err := env.silences.SetConfigured(cfg.ITSM.Silences); err != nil {
		return nil, nil, err
	}
	applied = append(applied, "itsm.silences ("+strconv.Itoa(len(cfg.ITSM.Silences))+")")
	if env.webhookTokens != nil {
		env.webhookTokens.Set(webhook)
		applied = append(applied, "webhook tokens ("+strconv.Itoa(webhook.Len())+")")
	}
	if env.apiTokens != nil {
		env.apiTokens.Set(api)
		applied = append(applied, "API tokens ("+strconv.Itoa(api.Len())+")")
	}
	old := env.cfg
	env.cfg.Ingest.WebhookTokenFiles, env.cfg.APITokenFiles, env.cfg.ITSM.Silences = cfg.Ingest.WebhookTokenFiles, cfg.APITokenFiles, cfg.ITSM.Silences
	restart = changedSections(old, cfg)
	if env.setTopology != nil {
		restart = slices.DeleteFunc(restart, func(s string) bool { return s == "topology" })
		if !reflect.DeepEqual(topo, env.topo) {
			// Last: it cannot fail on a topology that parsed.
			if err := env.setTopology(topo); err != nil {
				return applied, restart, fmt.Errorf("topology: %w", err)
			}
			env.topo, env.cfg.Topology = topo, cfg.Topology
			applied = append(applied, "topology ("+strconv.Itoa(topo.Len())+" nodes)")
		}
	}
	return applied, restart, nil
}

// changedSections names the top-level sections of the configuration that
// differ, besides what a reload applies.
func changedSections(running, next config.Config) []string {
	for _, c := range []*config.Config{&running, &next} {
		c.Ingest.WebhookTokenFiles, c.APITokenFiles, c.ITSM.Silences = nil, nil, nil
		// quell sets these from memory_limit, not from the file.
		c.Correlate.MaxStateBytes, c.ClickHouse.MaxBufferedBytes = 0, 0
	}
	var out []string
	a, b := reflect.ValueOf(running), reflect.ValueOf(next)
	for i := range a.NumField() {
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			name, _, _ := strings.Cut(a.Type().Field(i).Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return out
}

// logReload reloads, logs the outcome and returns it.
func (env *stageEnv) logReload(trigger string) (applied, restart []string, err error) {
	applied, restart, err = env.reload()
	if err != nil {
		env.log.Error("reload refused: the running configuration stays", "trigger", trigger, "err", err)
	} else {
		env.log.Info("configuration reloaded", "trigger", trigger, "applied", applied, "restart_needed", restart)
	}
	return applied, restart, err
}

// watchReload reloads on SIGHUP until ctx ends.
func (env *stageEnv) watchReload(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				env.logReload("SIGHUP")
			}
		}
	}()
}

// reloadHandler serves POST /-/reload (as Alertmanager and Prometheus do):
// 200 with what was applied and what needs a restart, or 400 with why the
// configuration was refused.
func (env *stageEnv) reloadHandler(w http.ResponseWriter, r *http.Request) {
	applied, restart, err := env.logReload("POST /-/reload")
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "configuration refused, the running one stays: " + err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string][]string{"applied": applied, "restart_needed": restart})
}
