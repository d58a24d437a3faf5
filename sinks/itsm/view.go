package itsm

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/sinks"
)

// View is what templates see: the incident after the change, and what
// changed since the ticket last heard of it.
type View struct {
	quell.Incident
	Kind quell.ChangeKind
	Seq  uint64
	At   time.Time
	// CommonLabels are the labels all alerts of the incident share.
	CommonLabels map[string]string
	// Firing counts the alerts still firing.
	Firing int
	// Joined alerts are new to the ticket or fire again, Cleared ones
	// resolved, Left ones moved to another incident.
	Joined, Cleared, Left []quell.IncidentAlert
	// Acknowledged: this change tells the ticket someone acknowledged the
	// incident (AcknowledgedBy).
	Acknowledged bool
	// Survivor names the ticket of the incident this one merged into
	// (MergedInto), where this sink opened one.
	Survivor string
	survivor Ticket
}

func newView(c quell.IncidentChange, seen map[string]quell.Status) *View {
	v := &View{Incident: c.Incident, Kind: c.Kind, Seq: c.Seq, At: c.At}
	now := make(map[string]bool, len(c.Incident.Alerts))
	for i, a := range c.Incident.Alerts {
		fp := a.Fingerprint.String()
		now[fp] = true
		if a.Status == quell.Firing {
			v.Firing++
		}
		switch before, ok := seen[fp]; {
		case a.Status == quell.Firing && (!ok || before != quell.Firing):
			v.Joined = append(v.Joined, a)
		case a.Status == quell.Resolved && ok && before == quell.Firing:
			v.Cleared = append(v.Cleared, a)
		}
		if i == 0 {
			v.CommonLabels = maps.Clone(a.Labels)
			continue
		}
		maps.DeleteFunc(v.CommonLabels, func(k, val string) bool { return a.Labels[k] != val })
	}
	for _, fp := range slices.Sorted(maps.Keys(seen)) {
		if !now[fp] {
			var f quell.Fingerprint
			_ = f.UnmarshalText([]byte(fp))
			v.Left = append(v.Left, quell.IncidentAlert{Fingerprint: f, Status: seen[fp]})
		}
	}
	return v
}

// alertStates is what the store remembers of the alerts a ticket has seen.
func alertStates(inc quell.Incident) map[string]quell.Status {
	m := make(map[string]quell.Status, len(inc.Alerts))
	for _, a := range inc.Alerts {
		m[a.Fingerprint.String()] = a.Status
	}
	return m
}

var funcs = template.FuncMap{
	// labels prints a label set as sorted name="value" pairs.
	"labels": func(l map[string]string) string {
		var b strings.Builder
		for i, k := range slices.Sorted(maps.Keys(l)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%q", k, l[k])
		}
		return b.String()
	},
}

const (
	defaultTitle       = `{{if .Title}}{{.Title}}{{else}}quell incident {{.ID}}{{end}}`
	defaultDescription = `quell incident {{.ID}}: {{.Severity}}, {{.Firing}} of {{len .Alerts}} alerts firing.
{{range .Alerts}}
- [{{.Status}}] {{with index .Annotations "summary"}}{{.}}: {{end}}{{labels .Labels}}{{with .Reason}} ({{.}}){{end}}{{end}}{{with .Runbooks}}
Runbooks:{{range .}}
- {{.}}{{end}}{{end}}`
	defaultNote = `{{if .MergedInto}}Duplicate: {{with .ResolvedBy}}{{.}} merged {{end}}quell incident {{.ID}} {{if not .ResolvedBy}}merged {{end}}into {{.MergedInto}}{{with .Survivor}} (ticket {{.}}){{end}}, which holds its alerts now.
{{else if .Evicted}}quell stopped tracking incident {{.ID}} to stay within its memory bound: its alerts may still be firing, and those that fire again open a new incident.
{{else if and (eq .Status "resolved") .ResolvedBy}}Resolved by {{.ResolvedBy}}: quell incident {{.ID}} is resolved.
{{else if eq .Status "resolved"}}All alerts resolved: quell incident {{.ID}} is resolved.
{{else if eq .Kind "reopened"}}quell incident {{.ID}} fired again and is reopened.
{{else if .Acknowledged}}Acknowledged by {{.AcknowledgedBy}} in quell.
{{end}}{{range .Joined}}Firing: {{labels .Labels}}
{{end}}{{range .Cleared}}Resolved: {{labels .Labels}}
{{end}}{{range .Left}}Moved to another incident: alert {{.Fingerprint}}
{{end}}`
)

// defaults are the templates of each kind of sink.
var defaults = map[string]Templates{
	"servicenow": {Title: defaultTitle, Description: defaultDescription, Note: defaultNote,
		// urgency and impact: 1 high, 2 medium, 3 low.
		Severity: `{{if eq .Severity "critical"}}1{{else if eq .Severity "warning"}}2{{else}}3{{end}}`},
	// An empty severity leaves the priority to Jira: not every create
	// screen has the priority field, and setting it there is a 400.
	"jira": {Title: defaultTitle, Description: defaultDescription, Note: defaultNote},
	"pagerduty": {Title: defaultTitle, Description: defaultDescription, Note: defaultNote,
		Severity: `{{if eq .Severity "critical" "warning" "info"}}{{.Severity}}{{else}}error{{end}}`},
}

type templates struct {
	title, description, severity, note *template.Template
	links                              [][2]*template.Template
}

// compile parses t, taking def's template where t leaves one empty.
func (t Templates) compile(def Templates) (*templates, error) {
	pick := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	var (
		c   templates
		err error
	)
	for _, f := range []struct {
		dst       **template.Template
		name, src string
	}{
		{&c.title, "title", pick(t.Title, def.Title)},
		{&c.description, "description", pick(t.Description, def.Description)},
		{&c.severity, "severity", pick(t.Severity, def.Severity)},
		{&c.note, "note", pick(t.Note, def.Note)},
	} {
		if *f.dst, err = parse("templates."+f.name, f.src); err != nil {
			return nil, err
		}
	}
	for i, l := range t.Links {
		text, err := parse(fmt.Sprintf("templates.links[%d].text", i), l.Text)
		if err != nil {
			return nil, err
		}
		u, err := parse(fmt.Sprintf("templates.links[%d].url", i), l.URL)
		if err != nil {
			return nil, err
		}
		c.links = append(c.links, [2]*template.Template{text, u})
	}
	return &c, nil
}

func parse(name, src string) (*template.Template, error) {
	t, err := template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// render runs t; a template that fails on real data fails every retry
// too, so the error is permanent.
func render(t *template.Template, v *View) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", &sinks.Permanent{Err: fmt.Errorf("%w: fix the template in the sink's config", err)}
	}
	return quell.Printable(strings.TrimSpace(b.String())), nil
}

// rendered is a View put through a sink's templates.
type rendered struct {
	Title, Description, Severity, Note string
	Links                              []Link
}

func (t *templates) render(v *View) (r rendered, err error) {
	for _, f := range []struct {
		dst *string
		t   *template.Template
	}{{&r.Title, t.title}, {&r.Description, t.description}, {&r.Severity, t.severity}, {&r.Note, t.note}} {
		if *f.dst, err = render(f.t, v); err != nil {
			return r, err
		}
	}
	for _, l := range t.links {
		text, err := render(l[0], v)
		if err != nil {
			return r, err
		}
		u, err := render(l[1], v)
		if err != nil {
			return r, err
		}
		if u != "" {
			r.Links = append(r.Links, Link{Text: text, URL: u})
		}
	}
	return r, nil
}
