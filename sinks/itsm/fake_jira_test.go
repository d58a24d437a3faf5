package itsm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// fakeJira implements Jira Cloud REST v3 as documented: create issue 201
// {"id","key","self"}, comment 201, transitions GET {"transitions": [...]}
// and POST 204, issue GET with fields, issue link POST 201 (type by name,
// inwardIssue and outwardIssue by key), errors as {"errorMessages": [...],
// "errors": {...}}; rich text must be Atlassian Document Format.
type fakeJira struct {
	fakeAPI
	issues map[string]*jiraIssue // by key
	order  []string
}

type jiraIssue struct {
	Key, Summary, Status, Labels string
	Comments                     int
	Duplicates                   string // the issue it was linked to as a duplicate of
}

// workflow: from a status, the transitions (id, name, target) it offers.
var workflow = map[string][][3]string{
	"To Do":       {{"11", "Start progress", "In Progress"}, {"31", "Resolve", "Done"}},
	"In Progress": {{"31", "Resolve", "Done"}},
	"Done":        {{"41", "Reopen", "To Do"}},
}

func newFakeJira() *fakeJira {
	f := &fakeJira{issues: map[string]*jiraIssue{}}
	f.auth = func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "bot@example.com" && p == "api-token"
	}
	f.errBody = func(code int, msg string) any {
		return map[string]any{"errorMessages": []string{msg}, "errors": map[string]string{}}
	}
	f.retryAfter = "1"
	return f
}

func (f *fakeJira) config(url string) Config {
	return Config{Jira: []JiraConfig{{Common: Common{Name: "ops", Templates: Templates{
		Links: []Link{{Text: "Runbook", URL: "https://runbooks.example.com/{{.CommonLabels.alertname}}"}}}}, URL: url, Email: "bot@example.com", APIToken: "api-token",
		Project: "OPS", IssueType: "Incident", ReopenStatus: "To Do"}}}
}

// isADF checks the shape REST v3 demands of rich text.
func isADF(v any) bool {
	doc, ok := v.(map[string]any)
	if !ok || doc["type"] != "doc" || doc["version"] != 1.0 {
		return false
	}
	content, ok := doc["content"].([]any)
	return ok && len(content) > 0
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, answered := f.intercept(w, r)
	if answered {
		return
	}
	var in map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			f.error(w, http.StatusBadRequest, "Unexpected character in request body")
			return
		}
	}
	if r.URL.Path == "/rest/api/3/issueLink" && r.Method == http.MethodPost {
		typ, _ := in["type"].(map[string]any)
		inward, _ := in["inwardIssue"].(map[string]any)
		outward, _ := in["outwardIssue"].(map[string]any)
		from, to := f.issues[fmt.Sprint(inward["key"])], f.issues[fmt.Sprint(outward["key"])]
		switch {
		case typ["name"] != "Duplicate" && typ["name"] != "Blocks":
			f.error(w, http.StatusNotFound, fmt.Sprintf("No issue link type with name '%v' found.", typ["name"]))
		case from == nil || to == nil:
			f.error(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
		default:
			if typ["name"] == "Duplicate" {
				from.Duplicates = to.Key
			}
			w.WriteHeader(http.StatusCreated)
		}
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, "/rest/api/3/issue")
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	issue := f.issues[parts[0]]
	switch {
	case r.Method == http.MethodPost && rest == "":
		fields, _ := in["fields"].(map[string]any)
		errs := map[string]string{}
		if p, _ := fields["project"].(map[string]any); p["key"] != "OPS" {
			errs["project"] = "Specify a valid project ID or key"
		}
		if it, _ := fields["issuetype"].(map[string]any); it["name"] != "Incident" {
			errs["issuetype"] = "Specify an issue type"
		}
		if s, _ := fields["summary"].(string); s == "" {
			errs["summary"] = "You must specify a summary of the issue."
		}
		if !isADF(fields["description"]) {
			errs["description"] = "Operation value must be an Atlassian Document."
		}
		if len(errs) > 0 {
			reply(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": errs})
			return
		}
		n := len(f.order) + 1
		key := fmt.Sprintf("OPS-%d", n)
		f.issues[key] = &jiraIssue{Key: key, Summary: fields["summary"].(string), Status: "To Do", Labels: fmt.Sprint(fields["labels"])}
		f.order = append(f.order, key)
		reply(w, http.StatusCreated, map[string]string{"id": fmt.Sprint(10000 + n), "key": key, "self": "http://" + r.Host + "/rest/api/3/issue/" + fmt.Sprint(10000+n)})
	case issue == nil:
		f.error(w, http.StatusNotFound, "Issue does not exist or you do not have permission to see it.")
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "comment":
		if !isADF(in["body"]) {
			reply(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": map[string]string{"comment": "Comment body can not be empty!"}})
			return
		}
		issue.Comments++
		reply(w, http.StatusCreated, map[string]any{"id": fmt.Sprint(issue.Comments), "body": in["body"]})
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "transitions":
		var ts []map[string]any
		for _, t := range workflow[issue.Status] {
			ts = append(ts, map[string]any{"id": t[0], "name": t[1], "to": map[string]string{"name": t[2]}})
		}
		reply(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": ts})
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "transitions":
		tr, _ := in["transition"].(map[string]any)
		for _, t := range workflow[issue.Status] {
			if tr["id"] == t[0] {
				issue.Status = t[2]
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		f.error(w, http.StatusBadRequest, fmt.Sprintf("Transition id '%v' is not valid for this issue.", tr["id"]))
	case r.Method == http.MethodGet && len(parts) == 1:
		reply(w, http.StatusOK, map[string]any{"key": issue.Key, "fields": map[string]any{"status": map[string]string{"name": issue.Status}}})
	default:
		f.error(w, http.StatusNotFound, "No resource at "+r.URL.Path)
	}
}

// tickets are the keys of issues quell opened for incident id (its title
// is the incident's summary in these tests).
func (f *fakeJira) tickets(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, k := range f.order {
		if strings.Contains(f.issues[k].Summary, id) {
			out = append(out, k)
		}
	}
	return out
}

func (f *fakeJira) resolved(ticket string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issues[ticket].Status == "Done"
}
