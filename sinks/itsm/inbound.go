package itsm

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/correlate"
	"github.com/quellhq/quell/sinks"
)

// Act applies a person's feedback and says what became of it (see the api
// package): the inbound webhooks turn what people did in the ITSM tools
// into feedback.
type Act func(ctx context.Context, f *quell.Feedback) (string, error)

// maxInbound bounds one ITSM webhook's body.
const maxInbound = 1 << 20

// Inbound mounts /webhooks/itsm/pagerduty, /jira and /servicenow: what
// people did with quell's tickets in those tools (acknowledged, assigned,
// resolved) comes back as feedback, found by the ticket reference quell
// stored. Each route takes only requests its tool's webhook_secret
// authenticates (401 otherwise, changing nothing); an event for a ticket
// quell did not open, or one it has nothing to do for, is answered 200 so
// the tool does not retry it, and one that already holds changes nothing.
func (c Config) Inbound(mux *http.ServeMux, store *Store, act Act) {
	in := inbound{cfg: c, store: store, act: act}
	mux.HandleFunc("POST /webhooks/itsm/pagerduty", in.handle("pagerduty", in.pagerDuty))
	mux.HandleFunc("POST /webhooks/itsm/jira", in.handle("jira", in.jira))
	mux.HandleFunc("POST /webhooks/itsm/servicenow", in.handle("servicenow", in.serviceNow))
}

type inbound struct {
	cfg   Config
	store *Store
	act   Act
}

// errUnauthorized: no configured secret authenticates the request.
var errUnauthorized = errors.New("not signed or authenticated with a configured webhook_secret of this tool")

// read checks a request against a tool's secrets and returns the body and
// the feedback it means (nil: nothing to do, with why).
type read func(r *http.Request, body []byte) (*quell.Feedback, string, error)

func (in inbound) handle(kind string, rd read) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInbound))
		if err != nil {
			reply(w, http.StatusRequestEntityTooLarge, map[string]string{"error": err.Error()})
			return
		}
		f, why, err := rd(r, body)
		switch {
		case errors.Is(err, errUnauthorized):
			reply(w, http.StatusUnauthorized, map[string]string{"error": kind + ": " + err.Error()})
			return
		case err != nil:
			reply(w, http.StatusBadRequest, map[string]string{"error": kind + ": " + err.Error()})
			return
		case f == nil:
			reply(w, http.StatusOK, map[string]string{"result": "ignored", "message": why})
			return
		}
		f.Via = kind
		if now := time.Now(); f.At.IsZero() || f.At.After(now) {
			f.At = now // a tool's clock ahead of quell's must not move the correlator's
		}
		id, err := in.act(r.Context(), f)
		switch {
		case err == nil:
			reply(w, http.StatusOK, map[string]string{"result": "applied", "incident": id, "action": string(f.Action)})
		case errors.Is(err, correlate.ErrNoChange):
			reply(w, http.StatusOK, map[string]string{"result": "unchanged", "incident": id, "message": err.Error()})
		case errors.Is(err, correlate.ErrUnknown), errors.Is(err, correlate.ErrConflict):
			reply(w, http.StatusOK, map[string]string{"result": "ignored", "message": err.Error()})
		default:
			w.Header().Set("Retry-After", "5")
			reply(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		}
	}
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// incidentOf finds the incident whose ticket in a tool of kind is ref.
func (in inbound) incidentOf(kind, ref string) (string, bool) {
	for _, r := range in.store.records() {
		if strings.HasPrefix(r.Sink, kind+"/") && (r.Ticket.ID == ref || r.Ticket.Number == ref) && ref != "" {
			return r.Incident, true
		}
	}
	return "", false
}

// pagerDuty reads a v3 webhook event, signed in X-PagerDuty-Signature with
// HMAC-SHA256 of the body (one or more v1=<hex>, comma separated):
// incident.acknowledged, incident.resolved and incident.reassigned of an
// incident quell triggered (its incident_key is quell's dedup_key).
func (in inbound) pagerDuty(r *http.Request, body []byte) (*quell.Feedback, string, error) {
	signed := false
	for _, c := range in.cfg.PagerDuty {
		signed = signed || c.WebhookSecret != "" && pdSigned(r.Header.Get("X-PagerDuty-Signature"), body, c.WebhookSecret)
	}
	if !signed {
		return nil, "", errUnauthorized
	}
	var msg struct {
		Event struct {
			ID         string    `json:"id"`
			EventType  string    `json:"event_type"`
			OccurredAt time.Time `json:"occurred_at"`
			Agent      *struct {
				Summary string `json:"summary"`
			} `json:"agent"`
			Data struct {
				IncidentKey string `json:"incident_key"`
				Assignees   []struct {
					Summary string `json:"summary"`
				} `json:"assignees"`
			} `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, "", fmt.Errorf("not a v3 webhook payload: %w", err)
	}
	ev := msg.Event
	id, ok := in.incidentOf("pagerduty", ev.Data.IncidentKey)
	if !ok {
		return nil, "no quell incident has PagerDuty incident_key " + ev.Data.IncidentKey, nil
	}
	f := &quell.Feedback{Incident: id, Actor: "PagerDuty", At: ev.OccurredAt, Comment: "PagerDuty event " + ev.ID}
	if ev.Agent != nil && ev.Agent.Summary != "" {
		f.Actor = ev.Agent.Summary
	}
	switch ev.EventType {
	case "incident.acknowledged":
		f.Action = quell.FeedbackAcknowledge
	case "incident.resolved":
		f.Action = quell.FeedbackResolve
	case "incident.reassigned":
		if len(ev.Data.Assignees) == 0 {
			return nil, "reassigned to nobody", nil
		}
		f.Action, f.Assignee = quell.FeedbackAssign, ev.Data.Assignees[0].Summary
	default:
		return nil, "quell acts on incident.acknowledged, incident.resolved and incident.reassigned, not " + ev.EventType, nil
	}
	return f, "", nil
}

func pdSigned(header string, body []byte, secret string) bool {
	want := "v1=" + strings.TrimPrefix(sinks.Sign(secret, body), "sha256=") // the same HMAC-SHA256, PagerDuty's prefix
	for sig := range strings.SplitSeq(header, ",") {
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(sig)), []byte(want)) == 1 {
			return true
		}
	}
	return false
}

// jira reads a jira:issue_updated webhook, signed in X-Hub-Signature
// (sha256=<hex HMAC-SHA256 of the body>, as Jira signs webhooks that have a
// secret): a status change to one of ack_statuses acknowledges, to
// done_status resolves; an assignee change assigns.
func (in inbound) jira(r *http.Request, body []byte) (*quell.Feedback, string, error) {
	var cfg *JiraConfig
	for i := range in.cfg.Jira {
		if s := in.cfg.Jira[i].WebhookSecret; s != "" && hubSigned(r.Header.Get("X-Hub-Signature"), body, s) {
			cfg = &in.cfg.Jira[i]
		}
	}
	if cfg == nil {
		return nil, "", errUnauthorized
	}
	var msg struct {
		Timestamp    int64  `json:"timestamp"`
		WebhookEvent string `json:"webhookEvent"`
		User         struct {
			DisplayName string `json:"displayName"`
		} `json:"user"`
		Issue struct {
			Key string `json:"key"`
		} `json:"issue"`
		Changelog struct {
			Items []struct {
				Field    string `json:"field"`
				ToString string `json:"toString"`
			} `json:"items"`
		} `json:"changelog"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, "", fmt.Errorf("not a Jira webhook payload: %w", err)
	}
	if msg.WebhookEvent != "jira:issue_updated" {
		return nil, "quell acts on jira:issue_updated, not " + msg.WebhookEvent, nil
	}
	id, ok := in.incidentOf("jira", msg.Issue.Key)
	if !ok {
		return nil, "no quell incident has Jira issue " + msg.Issue.Key, nil
	}
	f := &quell.Feedback{Incident: id, Actor: cmp.Or(msg.User.DisplayName, "Jira"), Comment: "Jira issue " + msg.Issue.Key}
	if msg.Timestamp > 0 {
		f.At = time.UnixMilli(msg.Timestamp).UTC()
	}
	for _, it := range msg.Changelog.Items {
		switch {
		case it.Field == "status" && strings.EqualFold(it.ToString, cfg.DoneStatus):
			f.Action = quell.FeedbackResolve
		case it.Field == "status" && slices.ContainsFunc(cfg.AckStatuses, func(s string) bool { return strings.EqualFold(s, it.ToString) }):
			f.Action = quell.FeedbackAcknowledge
		case it.Field == "assignee" && it.ToString != "" && f.Action == "":
			f.Action, f.Assignee = quell.FeedbackAssign, it.ToString
		}
	}
	if f.Action == "" {
		return nil, "no status or assignee change quell acts on", nil
	}
	return f, "", nil
}

func hubSigned(header string, body []byte, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(header), []byte(sinks.Sign(secret, body))) == 1 // Jira signs as quell's webhooks do
}

// serviceNow reads what an outbound REST message (a business rule on the
// incident table) sends, with "Authorization: Bearer <webhook_secret>":
//
//	{"sys_id": "${sys_id}", "number": "${number}", "correlation_id": "${correlation_id}",
//	 "state": "${state}", "assigned_to": "${assigned_to.name}", "sys_updated_by": "${sys_updated_by}",
//	 "sys_updated_on": "${sys_updated_on}"}
//
// ack_state acknowledges, resolve_state (or 7, Closed) resolves; an
// assignee assigns. What quell's own user changed (a reopen sets state 2)
// is left out.
func (in inbound) serviceNow(r *http.Request, body []byte) (*quell.Feedback, string, error) {
	var cfg *ServiceNowConfig
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for i := range in.cfg.ServiceNow {
		if s := in.cfg.ServiceNow[i].WebhookSecret; s != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s)) == 1 {
			cfg = &in.cfg.ServiceNow[i]
		}
	}
	if cfg == nil {
		return nil, "", errUnauthorized
	}
	var msg struct {
		SysID         string `json:"sys_id"`
		Number        string `json:"number"`
		CorrelationID string `json:"correlation_id"`
		State         string `json:"state"`
		AssignedTo    string `json:"assigned_to"`
		UpdatedBy     string `json:"sys_updated_by"`
		UpdatedOn     string `json:"sys_updated_on"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, "", fmt.Errorf("not the incident record quell expects (sys_id, number, correlation_id, state, ...): %w", err)
	}
	id, ok := in.incidentOf("servicenow", msg.SysID)
	switch {
	case !ok:
		return nil, "no quell incident has ServiceNow record " + msg.SysID + " " + msg.Number, nil
	case cfg.Username != "" && strings.EqualFold(msg.UpdatedBy, cfg.Username):
		return nil, "a change quell made itself (sys_updated_by is its user)", nil
	}
	f := &quell.Feedback{Incident: id, Actor: cmp.Or(msg.UpdatedBy, "ServiceNow"), Comment: "ServiceNow " + cmp.Or(msg.Number, msg.SysID)}
	if t, err := time.Parse(time.DateTime, msg.UpdatedOn); err == nil {
		f.At = t // the instance's sys_updated_on is UTC
	}
	switch {
	case msg.State == cfg.ResolveState || msg.State == "7":
		f.Action = quell.FeedbackResolve
	case msg.State == cfg.AckState:
		f.Action = quell.FeedbackAcknowledge
	case msg.AssignedTo != "":
		f.Action, f.Assignee = quell.FeedbackAssign, msg.AssignedTo
	default:
		return nil, "state " + msg.State + " is neither ack_state nor resolve_state, and no one is assigned", nil
	}
	return f, "", nil
}
