package itsm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/silence"
	"github.com/quellhq/quell/sinks"
)

// New builds one sink per configured ServiceNow, Jira and PagerDuty entry.
// They share store (ticket ids and delivery progress), dead (what they give
// up on) and silences (which alerts open no ticket); metrics go to reg (may
// be nil).
func New(cfg Config, store *Store, silences *silence.Store, dead *sinks.DeadLetters, log *slog.Logger, reg prometheus.Registerer) ([]sinks.Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quell_itsm_skipped_total",
		Help: "Incident changes an ITSM sink had nothing to do for, by reason (redelivered, silenced, not_firing, unchanged).",
	}, []string{"sink", "reason"})
	if reg != nil {
		if err := reg.Register(skipped); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("itsm metrics: %w", err)
			}
			skipped = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	env := env{store: store, dead: dead, log: log, reg: reg, silences: silences, skipped: skipped}
	var out []sinks.Sink
	for _, c := range cfg.ServiceNow {
		out = append(out, env.sink("servicenow", c.Common, newServiceNow(c)))
	}
	for _, c := range cfg.Jira {
		out = append(out, env.sink("jira", c.Common, newJira(c)))
	}
	for _, c := range cfg.PagerDuty {
		out = append(out, env.sink("pagerduty", c.Common, newPagerDuty(c)))
	}
	return out, nil
}

// tracker is one ITSM's side of a ticket's life. Each method returns the
// steps that carry a change out; the sink runs them in order and records
// each success, so a retry resumes after the steps that already happened.
type tracker interface {
	open(r rendered, v *View) []step
	update(t Ticket, r rendered, v *View) []step
	acknowledge(t Ticket, r rendered, v *View) []step
	// resolve closes the ticket; as a duplicate of v.survivor's when the
	// incident was merged into another (v.MergedInto).
	resolve(t Ticket, r rendered, v *View) []step
	reopen(t Ticket, r rendered, v *View) []step
}

// step is one request; open's step fills in the ticket.
type step func(ctx context.Context, t *Ticket) error

type env struct {
	store    *Store
	dead     *sinks.DeadLetters
	log      *slog.Logger
	reg      prometheus.Registerer
	silences *silence.Store
	skipped  *prometheus.CounterVec
}

// sink turns incident changes into ticket actions for one tracker.
type sink struct {
	*sinks.Queue
	id       string // kind/name: the store's and dead letters' name for it
	t        tracker
	tmpl     *templates
	store    *Store
	silences *silence.Store
	log      *slog.Logger
	skipped  *prometheus.CounterVec
}

// sink wires a validated config's tracker to a delivery queue.
func (e env) sink(kind string, c Common, t tracker) *sink {
	tmpl, _ := c.Templates.compile(defaults[kind]) // checked by Validate
	s := &sink{id: kind + "/" + c.Name, t: t, tmpl: tmpl, store: e.store, silences: e.silences, skipped: e.skipped}
	s.log = e.log.With("sink", s.id)
	m := sinks.NewQueueMetrics("itsm", "ITSM", s.id, e.reg)
	s.Queue = sinks.NewQueue(sinks.QueueConfig{Name: s.id, Size: c.Queue, MaxElapsed: c.MaxElapsed}, s.deliver, e.dead, s.log, m)
	return s
}

type action string

const (
	actOpen    action = "open"
	actUpdate  action = "update"
	actAck     action = "acknowledge"
	actResolve action = "resolve"
	actReopen  action = "reopen"
)

// deliver carries out one change. It is called again for the same change
// after a transient failure, and for changes already delivered after a
// redelivery or restart: the store makes both harmless.
func (s *sink) deliver(ctx context.Context, c quell.IncidentChange) error {
	rec, ok := s.store.get(s.id, c.Incident.ID)
	if ok && c.Seq <= rec.Seq {
		s.skip("redelivered", c)
		return nil
	}
	if !ok {
		if why := s.closedToTickets(c); why != "" {
			s.skip(why, c)
			return nil
		}
		rec = Record{Sink: s.id, Incident: c.Incident.ID}
	}
	v := newView(c, rec.Alerts)
	act, done := s.plan(rec, ok, c, v)
	if act == "" {
		s.skip("unchanged", c)
		return nil
	}
	v.Acknowledged = act == actAck
	if into := c.Incident.MergedInto; into != "" {
		if sr, ok := s.store.get(s.id, into); ok {
			v.survivor = sr.Ticket
			v.Survivor = cmp.Or(sr.Ticket.Number, sr.Ticket.ID)
		}
	}
	r, err := s.tmpl.render(v)
	if err != nil {
		return err
	}
	var steps []step
	switch act {
	case actOpen:
		steps = s.t.open(r, v)
	case actUpdate:
		steps = s.t.update(rec.Ticket, r, v)
	case actAck:
		steps = s.t.acknowledge(rec.Ticket, r, v)
	case actResolve:
		steps = s.t.resolve(rec.Ticket, r, v)
	case actReopen:
		steps = s.t.reopen(rec.Ticket, r, v)
	}
	for i := done; i < len(steps); i++ {
		if err := steps[i](ctx, &rec.Ticket); err != nil {
			return fmt.Errorf("%s %s of incident %s (ticket %q, step %d of %d): %w", s.id, act, c.Incident.ID, rec.Ticket.ID, i+1, len(steps), err)
		}
		if i+1 < len(steps) {
			rec.Pending = &Pending{Seq: c.Seq, Action: act, Steps: i + 1}
			if err := s.store.put(rec); err != nil {
				return err
			}
		}
	}
	rec.Seq, rec.Pending = c.Seq, nil
	rec.Resolved = c.Incident.Status == quell.IncidentResolved
	rec.Acked = rec.Acked || act == actAck
	rec.Severity, rec.Alerts = c.Incident.Severity, alertStates(c.Incident)
	if err := s.store.put(rec); err != nil {
		return err
	}
	s.log.Info("ticket delivered", "action", act, "incident", c.Incident.ID, "seq", c.Seq, "ticket", rec.Ticket.ID)
	return nil
}

// plan picks what the change means for the ticket, and how many of its
// steps an earlier attempt already carried out.
func (s *sink) plan(rec Record, exists bool, c quell.IncidentChange, v *View) (action, int) {
	if p := rec.Pending; p != nil && p.Seq == c.Seq {
		return p.Action, p.Steps
	}
	open := c.Incident.Status == quell.IncidentOpen
	switch {
	case !exists:
		return actOpen, 0
	case open && rec.Resolved:
		return actReopen, 0
	case !open && !rec.Resolved:
		return actResolve, 0
	case open && c.Incident.AcknowledgedBy != "" && !rec.Acked:
		return actAck, 0
	case open && (len(v.Joined)+len(v.Cleared)+len(v.Left) > 0 || c.Incident.Severity != rec.Severity):
		return actUpdate, 0
	}
	return "", 0
}

// closedToTickets says why an incident without a ticket opens none: it is
// resolved, nothing fires, or every firing alert is silenced.
func (s *sink) closedToTickets(c quell.IncidentChange) string {
	if c.Incident.Status != quell.IncidentOpen {
		return "not_firing"
	}
	at := c.At
	if at.IsZero() {
		at = time.Now()
	}
	why := "not_firing"
	for _, a := range c.Incident.Alerts {
		if a.Status != quell.Firing {
			continue
		}
		if len(s.silences.SilencedBy(a.Labels, at)) == 0 {
			return ""
		}
		why = "silenced"
	}
	return why
}

func (s *sink) skip(reason string, c quell.IncidentChange) {
	s.skipped.WithLabelValues(s.id, reason).Inc()
	s.log.Debug("no ticket action", "incident", c.Incident.ID, "seq", c.Seq, "kind", c.Kind, "reason", reason)
}
