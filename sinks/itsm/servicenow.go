package itsm

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template"
)

// serviceNow keeps one incident record per quell incident through the
// Table API, found again by correlation_id.
type serviceNow struct {
	cfg    ServiceNowConfig
	c      *client
	fields map[string]*template.Template
	path   string
}

func newServiceNow(cfg ServiceNowConfig) *serviceNow {
	s := &serviceNow{cfg: cfg, fields: map[string]*template.Template{}, path: "/api/now/table/" + url.PathEscape(cfg.Table),
		c: newClient(strings.TrimRight(cfg.URL, "/"), cfg.Timeout, cfg.Username, cfg.Password, cfg.Token,
			"check itsm.servicenow "+cfg.Name+": username/password or token, and the user's rights on table "+cfg.Table)}
	for k, v := range cfg.Fields {
		s.fields[k], _ = parse("fields."+k, v) // checked by Validate
	}
	return s
}

// snRecord is the part of a Table API record quell reads.
type snRecord struct {
	SysID  string `json:"sys_id"`
	Number string `json:"number"`
}

func (s *serviceNow) open(r rendered, v *View) []step {
	return []step{func(ctx context.Context, t *Ticket) error {
		// A record with this correlation_id means an earlier attempt
		// created it but its answer was lost: adopt it, open no second.
		var found struct {
			Result []snRecord `json:"result"`
		}
		q := url.Values{"sysparm_query": {"correlation_id=" + v.ID}, "sysparm_fields": {"sys_id,number"}, "sysparm_limit": {"1"}}
		if err := s.c.do(ctx, http.MethodGet, s.path+"?"+q.Encode(), nil, &found); err != nil {
			return err
		}
		if len(found.Result) > 0 {
			*t = Ticket{ID: found.Result[0].SysID, Number: found.Result[0].Number}
			return nil
		}
		body := map[string]string{
			"short_description":   truncate(r.Title, 160),
			"description":         withLinks(r.Description, r.Links),
			"correlation_id":      v.ID,
			"correlation_display": "quell",
			"urgency":             r.Severity,
			"impact":              r.Severity,
		}
		for _, k := range slices.Sorted(maps.Keys(s.fields)) {
			val, err := render(s.fields[k], v)
			if err != nil {
				return err
			}
			body[k] = val
		}
		var created struct {
			Result snRecord `json:"result"`
		}
		if err := s.c.do(ctx, http.MethodPost, s.path+"?sysparm_fields=sys_id,number", body, &created); err != nil {
			return err
		}
		*t = Ticket{ID: created.Result.SysID, Number: created.Result.Number}
		return nil
	}}
}

func (s *serviceNow) patch(t Ticket, fields map[string]string) []step {
	return []step{func(ctx context.Context, _ *Ticket) error {
		return s.c.do(ctx, http.MethodPatch, s.path+"/"+url.PathEscape(t.ID)+"?sysparm_fields=sys_id", fields, nil)
	}}
}

func (s *serviceNow) update(t Ticket, r rendered, _ *View) []step {
	return s.patch(t, map[string]string{"work_notes": r.Note})
}

// acknowledge moves the record to the acknowledged state (In Progress by
// default) with a work note.
func (s *serviceNow) acknowledge(t Ticket, r rendered, _ *View) []step {
	return s.patch(t, map[string]string{"state": s.cfg.AckState, "work_notes": r.Note})
}

// resolve closes the record; a merged incident's becomes a child of the
// survivor's record (parent_incident), as ServiceNow files duplicates.
func (s *serviceNow) resolve(t Ticket, r rendered, v *View) []step {
	fields := map[string]string{"state": s.cfg.ResolveState, "close_code": s.cfg.CloseCode, "close_notes": r.Note}
	if v.MergedInto != "" && v.survivor.ID != "" {
		fields["parent_incident"] = v.survivor.ID
	}
	return s.patch(t, fields)
}

func (s *serviceNow) reopen(t Ticket, r rendered, _ *View) []step {
	return s.patch(t, map[string]string{"state": s.cfg.ReopenState, "work_notes": r.Note})
}

// withLinks appends the links to a plain-text description.
func withLinks(text string, links []Link) string {
	if len(links) == 0 {
		return text
	}
	var b strings.Builder
	b.WriteString(text)
	b.WriteString("\n\nLinks:")
	for _, l := range links {
		b.WriteString("\n- ")
		if l.Text != "" {
			b.WriteString(l.Text + ": ")
		}
		b.WriteString(l.URL)
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
