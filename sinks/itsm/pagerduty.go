package itsm

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"text/template"
	"time"

	"github.com/quellhq/quell/sinks"
)

// pagerDuty sends Events API v2 alert events with the incident id as
// dedup_key: trigger opens and updates the alert, resolve closes it, and a
// trigger after a resolve opens it again under the same key.
type pagerDuty struct {
	cfg    PagerDutyConfig
	c      *client
	source *template.Template
}

const defaultSource = `{{or .CommonLabels.instance .CommonLabels.service .CommonLabels.job "quell"}}`

func newPagerDuty(cfg PagerDutyConfig) *pagerDuty {
	src := cfg.Source
	if src == "" {
		src = defaultSource
	}
	source, _ := parse("source", src) // checked by Validate
	// The routing key travels in the body; the client sends no credentials.
	return &pagerDuty{cfg: cfg, source: source, c: newClient(cfg.URL, cfg.Timeout, "", "", "",
		"check itsm.pagerduty "+cfg.Name+".routing_key: it must be the integration key of an Events API v2 integration")}
}

// pdEvent is an Events API v2 alert event.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	DedupKey    string     `json:"dedup_key"`
	EventAction string     `json:"event_action"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

var pdSeverities = []string{"critical", "error", "warning", "info"}

func (p *pagerDuty) send(ctx context.Context, t *Ticket, ev pdEvent) error {
	var res struct {
		DedupKey string `json:"dedup_key"`
	}
	if err := p.c.do(ctx, http.MethodPost, "", ev, &res); err != nil {
		return err
	}
	*t = Ticket{ID: cmp.Or(res.DedupKey, ev.DedupKey)}
	return nil
}

func (p *pagerDuty) trigger(r rendered, v *View) []step {
	return []step{func(ctx context.Context, t *Ticket) error {
		if !slices.Contains(pdSeverities, r.Severity) {
			return &sinks.Permanent{Err: fmt.Errorf("severity %q is not one of critical, error, warning, info: fix itsm.pagerduty %s.templates.severity", r.Severity, p.cfg.Name)}
		}
		source, err := render(p.source, v)
		if err != nil {
			return err
		}
		alerts := make([]map[string]any, 0, len(v.Alerts))
		for _, a := range v.Alerts {
			alerts = append(alerts, map[string]any{"status": a.Status, "labels": a.Labels, "fingerprint": a.Fingerprint})
		}
		var ts string
		if !v.CreatedAt.IsZero() {
			ts = v.CreatedAt.UTC().Format(time.RFC3339Nano)
		}
		ev := pdEvent{RoutingKey: p.cfg.RoutingKey, DedupKey: v.ID, EventAction: "trigger", Client: p.cfg.Client, ClientURL: p.cfg.ClientURL,
			Payload: &pdPayload{
				Summary: truncate(r.Title, 1024), Source: cmp.Or(source, "quell"), Severity: r.Severity,
				Timestamp: ts, Class: v.CommonLabels["alertname"],
				CustomDetails: map[string]any{"incident": v.ID, "description": r.Description, "firing": v.Firing, "alerts": alerts},
			}}
		for _, l := range r.Links {
			ev.Links = append(ev.Links, pdLink{Href: l.URL, Text: l.Text})
		}
		return p.send(ctx, t, ev)
	}}
}

func (p *pagerDuty) open(r rendered, v *View) []step { return p.trigger(r, v) }

func (p *pagerDuty) update(_ Ticket, r rendered, v *View) []step { return p.trigger(r, v) }

func (p *pagerDuty) reopen(_ Ticket, r rendered, v *View) []step { return p.trigger(r, v) }

// acknowledge acknowledges the alert: PagerDuty stops escalating it.
func (p *pagerDuty) acknowledge(t Ticket, _ rendered, _ *View) []step {
	return []step{func(ctx context.Context, tt *Ticket) error {
		return p.send(ctx, tt, pdEvent{RoutingKey: p.cfg.RoutingKey, DedupKey: t.ID, EventAction: "acknowledge"})
	}}
}

// resolve resolves the alert; the Events API has no way to link a
// duplicate, so a merged incident's alert just resolves.
func (p *pagerDuty) resolve(t Ticket, _ rendered, _ *View) []step {
	return []step{func(ctx context.Context, tt *Ticket) error {
		return p.send(ctx, tt, pdEvent{RoutingKey: p.cfg.RoutingKey, DedupKey: t.ID, EventAction: "resolve"})
	}}
}
