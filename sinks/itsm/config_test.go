package itsm

import (
	"github.com/quellhq/quell/silence"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const exampleYAML = `
silences:
  - name: staging disks
    matchers: '{env="staging", alertname=~"Disk.*"}'
  - name: db upgrade
    matchers: '{service="postgres"}'
    starts_at: 2025-06-01T22:00:00Z
    ends_at: 2025-06-02T02:00:00Z
  - name: weekly patching
    matchers: '{team="infra"}'
    weekly: {days: [sat, sun], start: "22:00", duration: 4h, time_zone: Europe/Berlin}
servicenow:
  - name: prod
    url: https://example.service-now.com
    username: quell
    password: secret
    fields: {assignment_group: "{{.CommonLabels.team}}"}
jira:
  - name: ops
    url: https://example.atlassian.net
    email: bot@example.com
    api_token: token
    project: OPS
    issue_type: Incident
    reopen_status: To Do
pagerduty:
  - routing_key: 0123456789abcdef0123456789abcdef
    templates:
      title: '[quell] {{.Title}}'
      links: [{text: Runbook, url: 'https://runbooks.example.com/{{.CommonLabels.alertname}}'}]
`

func TestExampleConfigLoadsWithDefaults(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(exampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	sn, jr, pd := c.ServiceNow[0], c.Jira[0], c.PagerDuty[0]
	switch {
	case sn.Table != "incident" || sn.ResolveState != "6" || sn.Timeout != 10*time.Second:
		t.Errorf("servicenow defaults not filled: %+v", sn)
	case jr.DoneStatus != "Done" || len(jr.Labels) != 1:
		t.Errorf("jira defaults not filled: %+v", jr)
	case pd.Name != "default" || pd.URL != "https://events.pagerduty.com/v2/enqueue":
		t.Errorf("pagerduty defaults not filled: %+v", pd)
	case c.Silences[2].Weekly.Duration != 4*time.Hour || !c.Silences[1].EndsAt.Equal(time.Date(2025, 6, 2, 2, 0, 0, 0, time.UTC)):
		t.Errorf("silence times not read: %+v", c.Silences)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	sn := func(mod func(*ServiceNowConfig)) Config {
		c := ServiceNowConfig{URL: "https://x.service-now.com", Username: "u", Password: "p"}
		mod(&c)
		return Config{ServiceNow: []ServiceNowConfig{c}}
	}
	jira := func(mod func(*JiraConfig)) Config {
		c := JiraConfig{URL: "https://x.atlassian.net", Email: "e", APIToken: "t", Project: "OPS", IssueType: "Incident"}
		mod(&c)
		return Config{Jira: []JiraConfig{c}}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"servicenow url", sn(func(c *ServiceNowConfig) { c.URL = "example.com" }), "itsm.servicenow[0]: url"},
		{"servicenow auth", sn(func(c *ServiceNowConfig) { c.Password = "" }), "itsm.servicenow[0]: username and password"},
		{"servicenow both auths", sn(func(c *ServiceNowConfig) { c.Token = "t" }), "itsm.servicenow[0]: token"},
		{"servicenow field template", sn(func(c *ServiceNowConfig) { c.Fields = map[string]string{"caller_id": "{{"} }), "fields.caller_id"},
		{"template", sn(func(c *ServiceNowConfig) { c.Templates.Title = "{{.Title" }), "itsm.servicenow[0]: templates.title"},
		{"link template", sn(func(c *ServiceNowConfig) { c.Templates.Links = []Link{{URL: "{{end}}"}} }), "templates.links[0].url"},
		{"jira project", jira(func(c *JiraConfig) { c.Project = "" }), "itsm.jira[0]: project"},
		{"jira issue type", jira(func(c *JiraConfig) { c.IssueType = "" }), "itsm.jira[0]: issue_type"},
		{"pagerduty routing key", Config{PagerDuty: []PagerDutyConfig{{}}}, "itsm.pagerduty[0]: routing_key"},
		{"pagerduty source", Config{PagerDuty: []PagerDutyConfig{{RoutingKey: "k", Source: "{{"}}}, "itsm.pagerduty[0]: source"},
		{"duplicate name", Config{PagerDuty: []PagerDutyConfig{{RoutingKey: "a"}, {RoutingKey: "b"}}}, "itsm.pagerduty[1].name"},
		{"silence matchers", Config{Silences: []silence.Config{{Matchers: `{env=~"("}`}}}, "itsm.silences[0]: matchers"},
		{"empty silence", Config{Silences: []silence.Config{{}}}, "itsm.silences[0]: matchers: at least one"},
		{"silence ends", Config{Silences: []silence.Config{{Matchers: "a=b", StartsAt: time.Now(), EndsAt: time.Now().Add(-time.Hour)}}}, "ends_at"},
		{"weekly day", Config{Silences: []silence.Config{{Matchers: "a=b", Weekly: &silence.Weekly{Days: []string{"funday"}, Start: "22:00", Duration: time.Hour}}}}, "weekly.days"},
		{"weekly start", Config{Silences: []silence.Config{{Matchers: "a=b", Weekly: &silence.Weekly{Days: []string{"sat"}, Start: "25:00", Duration: time.Hour}}}}, "weekly.start"},
		{"weekly duration", Config{Silences: []silence.Config{{Matchers: "a=b", Weekly: &silence.Weekly{Days: []string{"sat"}, Start: "22:00"}}}}, "weekly.duration"},
		{"weekly zone", Config{Silences: []silence.Config{{Matchers: "a=b", Weekly: &silence.Weekly{Days: []string{"sat"}, Start: "22:00", Duration: time.Hour, TimeZone: "Mars/Olympus"}}}}, "weekly.time_zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
