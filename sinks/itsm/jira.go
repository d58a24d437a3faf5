package itsm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/quellhq/quell/sinks"
)

// jira keeps one issue per quell incident: created in the configured
// project, commented on as the incident changes, transitioned to the done
// status when it resolves.
type jira struct {
	cfg JiraConfig
	c   *client
}

func newJira(cfg JiraConfig) *jira {
	return &jira{cfg: cfg, c: newClient(strings.TrimRight(cfg.URL, "/"), cfg.Timeout, cfg.Email, cfg.APIToken, cfg.Token,
		"check itsm.jira "+cfg.Name+": email/api_token or token, and the account's permissions in project "+cfg.Project)}
}

func (j *jira) open(r rendered, v *View) []step {
	return []step{func(ctx context.Context, t *Ticket) error {
		fields := map[string]any{
			"project":     map[string]string{"key": j.cfg.Project},
			"issuetype":   map[string]string{"name": j.cfg.IssueType},
			"summary":     truncate(r.Title, 255),
			"description": adf(r.Description, r.Links),
			"labels":      j.cfg.Labels,
		}
		if r.Severity != "" {
			fields["priority"] = map[string]string{"name": r.Severity}
		}
		var created struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if err := j.c.do(ctx, http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": fields}, &created); err != nil {
			return err
		}
		*t = Ticket{ID: created.Key}
		return nil
	}}
}

func (j *jira) comment(t Ticket, text string) step {
	return func(ctx context.Context, _ *Ticket) error {
		return j.c.do(ctx, http.MethodPost, "/rest/api/3/issue/"+url.PathEscape(t.ID)+"/comment", map[string]any{"body": adf(text, nil)}, nil)
	}
}

func (j *jira) update(t Ticket, r rendered, _ *View) []step {
	return []step{j.comment(t, r.Note)}
}

func (j *jira) acknowledge(t Ticket, r rendered, _ *View) []step {
	return []step{j.comment(t, r.Note)}
}

// resolve comments and moves the issue to done; a merged incident's issue
// is first linked to the survivor's as its duplicate.
func (j *jira) resolve(t Ticket, r rendered, v *View) []step {
	steps := []step{j.comment(t, r.Note)}
	if v.MergedInto != "" && v.survivor.ID != "" {
		steps = append(steps, j.duplicateOf(t, v.survivor))
	}
	return append(steps, j.transition(t, j.cfg.DoneStatus, "done_status"))
}

// duplicateOf links t to survivor with the Duplicate link type, so that t
// shows "duplicates" survivor. Jira fills in the inwardIssue's side with
// the type's outward description, whatever the field names suggest (see
// Atlassian's issue linking model), hence t as inwardIssue.
func (j *jira) duplicateOf(t, survivor Ticket) step {
	return func(ctx context.Context, _ *Ticket) error {
		return j.c.do(ctx, http.MethodPost, "/rest/api/3/issueLink", map[string]any{
			"type":         map[string]string{"name": "Duplicate"},
			"inwardIssue":  map[string]string{"key": t.ID},
			"outwardIssue": map[string]string{"key": survivor.ID},
		}, nil)
	}
}

func (j *jira) reopen(t Ticket, r rendered, _ *View) []step {
	if j.cfg.ReopenStatus == "" {
		return []step{j.comment(t, r.Note)}
	}
	return []step{j.comment(t, r.Note), j.transition(t, j.cfg.ReopenStatus, "reopen_status")}
}

// transition moves the issue to the status named status, through
// whichever transition the workflow offers from where the issue is.
func (j *jira) transition(t Ticket, status, field string) step {
	return func(ctx context.Context, _ *Ticket) error {
		path := "/rest/api/3/issue/" + url.PathEscape(t.ID)
		var got struct {
			Transitions []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
				To   struct {
					Name string `json:"name"`
				} `json:"to"`
			} `json:"transitions"`
		}
		if err := j.c.do(ctx, http.MethodGet, path+"/transitions", nil, &got); err != nil {
			return err
		}
		var offered []string
		for _, tr := range got.Transitions {
			if strings.EqualFold(tr.To.Name, status) || strings.EqualFold(tr.Name, status) {
				return j.c.do(ctx, http.MethodPost, path+"/transitions", map[string]any{"transition": map[string]string{"id": tr.ID}}, nil)
			}
			offered = append(offered, fmt.Sprintf("%q to %q", tr.Name, tr.To.Name))
		}
		// No way there: someone may have moved the issue already.
		var issue struct {
			Fields struct {
				Status struct {
					Name string `json:"name"`
				} `json:"status"`
			} `json:"fields"`
		}
		if err := j.c.do(ctx, http.MethodGet, path+"?fields=status", nil, &issue); err != nil {
			return err
		}
		if strings.EqualFold(issue.Fields.Status.Name, status) {
			return nil
		}
		return &sinks.Permanent{Err: fmt.Errorf("issue %s is in status %q and its workflow offers no transition to %q (offered: %s): set itsm.jira %s %s to a status the workflow reaches",
			t.ID, issue.Fields.Status.Name, status, strings.Join(offered, ", "), j.cfg.Name, field)}
	}
}

// adf renders plain text as an Atlassian Document Format document, the
// only rich text REST API v3 accepts: a paragraph a line (ADF refuses
// empty text nodes), then a paragraph a link.
func adf(text string, links []Link) map[string]any {
	type node = map[string]any
	content := []node{}
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			content = append(content, node{"type": "paragraph", "content": []node{{"type": "text", "text": line}}})
		}
	}
	for _, l := range links {
		label := l.Text
		if label == "" {
			label = l.URL
		}
		content = append(content, node{"type": "paragraph", "content": []node{{"type": "text", "text": label,
			"marks": []node{{"type": "link", "attrs": node{"href": l.URL}}}}}})
	}
	if len(content) == 0 {
		content = append(content, node{"type": "paragraph", "content": []node{}})
	}
	return node{"type": "doc", "version": 1, "content": content}
}
