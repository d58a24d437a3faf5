// Package itsm opens, updates and closes tickets for quell incidents in
// ServiceNow, Jira Service Management and PagerDuty: one ticket per
// incident, kept in a Store so redelivered changes never repeat a step.
package itsm

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/quellhq/quell/silence"
	"github.com/quellhq/quell/sinks"
)

// Config is the itsm section of the configuration file.
type Config struct {
	// Silences keep matching alerts from opening tickets; with times they
	// are maintenance windows.
	Silences   []silence.Config   `yaml:"silences"`
	ServiceNow []ServiceNowConfig `yaml:"servicenow"`
	Jira       []JiraConfig       `yaml:"jira"`
	PagerDuty  []PagerDutyConfig  `yaml:"pagerduty"`
}

// Enabled reports whether any ITSM sink is configured.
func (c *Config) Enabled() bool {
	return len(c.ServiceNow)+len(c.Jira)+len(c.PagerDuty) > 0
}

// Common is what every ITSM sink has.
type Common struct {
	// Name identifies the sink in the ticket store: renaming a sink forgets
	// its tickets, so later changes would open new ones.
	Name           string `yaml:"name"`
	sinks.Delivery `yaml:",inline"`
	Templates      Templates `yaml:"templates"`
	// WebhookSecret authenticates what the tool sends back to
	// /webhooks/itsm/<kind> (see Inbound): PagerDuty's v3 webhook
	// subscription secret, the secret of a Jira webhook, the bearer token
	// of a ServiceNow outbound REST message. Without one that route takes
	// nothing from this tool. webhook_secret_file reads it from a file.
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
}

// Templates are Go text/templates over a View; empty ones take the
// sink's defaults.
type Templates struct {
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Severity renders to the ITSM's own scale (see each sink's default).
	Severity string `yaml:"severity"`
	// Note is the text of an update (work note, comment) and of the close.
	Note  string `yaml:"note"`
	Links []Link `yaml:"links"`
}

// Link is a link attached to the ticket; a link whose URL renders empty is left out.
type Link struct {
	Text string `yaml:"text"`
	URL  string `yaml:"url"`
}

// ServiceNowConfig sends incidents to the Table API of one instance.
type ServiceNowConfig struct {
	Common `yaml:",inline"`
	// URL is the instance, e.g. https://example.service-now.com.
	URL string `yaml:"url"`
	// Username and Password for basic auth, or Token for a bearer token.
	// Each secret may instead be read from a file (password_file,
	// token_file) or name environment variables (${NAME}).
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	Token        string `yaml:"token"`
	TokenFile    string `yaml:"token_file"`
	// Table defaults to incident.
	Table string `yaml:"table"`
	// Fields are extra templated fields of a new ticket (assignment_group, caller_id, category, ...).
	Fields map[string]string `yaml:"fields"`
	// ResolveState (default 6, Resolved), ReopenState and AckState, when
	// someone acknowledges the incident in quell (default 2, In Progress).
	ResolveState string `yaml:"resolve_state"`
	ReopenState  string `yaml:"reopen_state"`
	AckState     string `yaml:"ack_state"`
	// CloseCode is one of the instance's close_code choices (default "Resolved by caller").
	CloseCode string `yaml:"close_code"`
}

// JiraConfig sends incidents to Jira Service Management through Jira's REST API v3.
type JiraConfig struct {
	Common `yaml:",inline"`
	// URL is the site, e.g. https://example.atlassian.net.
	URL string `yaml:"url"`
	// Email and APIToken for Jira Cloud basic auth, or Token for a bearer
	// (personal access) token; api_token_file and token_file read them
	// from files, ${NAME} from the environment.
	Email        string   `yaml:"email"`
	APIToken     string   `yaml:"api_token"`
	APITokenFile string   `yaml:"api_token_file"`
	Token        string   `yaml:"token"`
	TokenFile    string   `yaml:"token_file"`
	Project      string   `yaml:"project"`
	IssueType    string   `yaml:"issue_type"`
	Labels       []string `yaml:"labels"`
	// DoneStatus is the status a resolved incident's issue moves to (default Done).
	DoneStatus string `yaml:"done_status"`
	// ReopenStatus, when set, is where a reopened incident's issue moves back to.
	ReopenStatus string `yaml:"reopen_status"`
	// AckStatuses: an issue moved to one of them in Jira acknowledges its
	// incident in quell (default In Progress).
	AckStatuses []string `yaml:"ack_statuses"`
}

// PagerDutyConfig sends incidents as Events API v2 alerts.
type PagerDutyConfig struct {
	Common `yaml:",inline"`
	// URL defaults to https://events.pagerduty.com/v2/enqueue.
	URL            string `yaml:"url"`
	RoutingKey     string `yaml:"routing_key"`
	RoutingKeyFile string `yaml:"routing_key_file"`
	// Source is a template for payload.source (default: the alerts' common
	// instance, service or job label, else "quell").
	Source string `yaml:"source"`
	// Client and ClientURL name quell in PagerDuty's UI.
	Client    string `yaml:"client"`
	ClientURL string `yaml:"client_url"`
}

// Validate fills defaults and names the first bad field.
func (c *Config) Validate() error {
	for i := range c.Silences {
		if err := c.Silences[i].Validate(); err != nil {
			return fmt.Errorf("itsm.silences[%d]: %w", i, err)
		}
	}
	names := map[string]bool{}
	check := func(kind string, i int, cm *Common, err error) error {
		if err == nil {
			err = cm.validate(kind)
		}
		if err != nil {
			return fmt.Errorf("itsm.%s[%d]: %w", kind, i, err)
		}
		if names[kind+"/"+cm.Name] {
			return fmt.Errorf("itsm.%s[%d].name: %q is used twice; each sink needs its own name, it keys the ticket store", kind, i, cm.Name)
		}
		names[kind+"/"+cm.Name] = true
		return nil
	}
	for i := range c.ServiceNow {
		if err := check("servicenow", i, &c.ServiceNow[i].Common, c.ServiceNow[i].validate()); err != nil {
			return err
		}
	}
	for i := range c.Jira {
		if err := check("jira", i, &c.Jira[i].Common, c.Jira[i].validate()); err != nil {
			return err
		}
	}
	for i := range c.PagerDuty {
		if err := check("pagerduty", i, &c.PagerDuty[i].Common, c.PagerDuty[i].validate()); err != nil {
			return err
		}
	}
	return nil
}

func (c *Common) validate(kind string) error {
	if c.Name == "" {
		c.Name = "default"
	}
	c.Defaults()
	_, err := c.Templates.compile(defaults[kind])
	return err
}

func (c *ServiceNowConfig) validate() error {
	if err := checkURL(c.URL); err != nil {
		return err
	}
	if err := auth(c.Username, c.Password, c.Token, "username", "password"); err != nil {
		return err
	}
	for k, v := range c.Fields {
		if _, err := parse("fields."+k, v); err != nil {
			return err
		}
	}
	if c.Table == "" {
		c.Table = "incident"
	}
	if c.ResolveState == "" {
		c.ResolveState = "6"
	}
	if c.ReopenState == "" {
		c.ReopenState = "2"
	}
	if c.AckState == "" {
		c.AckState = "2"
	}
	if c.CloseCode == "" {
		c.CloseCode = "Resolved by caller"
	}
	return nil
}

func (c *JiraConfig) validate() error {
	if err := checkURL(c.URL); err != nil {
		return err
	}
	if err := auth(c.Email, c.APIToken, c.Token, "email", "api_token"); err != nil {
		return err
	}
	switch {
	case c.Project == "":
		return errors.New("project: the key of the project issues are created in is required")
	case c.IssueType == "":
		return errors.New("issue_type: the name of the issue type to create (e.g. Incident) is required")
	}
	if c.DoneStatus == "" {
		c.DoneStatus = "Done"
	}
	if c.AckStatuses == nil {
		c.AckStatuses = []string{"In Progress"}
	}
	if c.Labels == nil {
		c.Labels = []string{"quell"}
	}
	return nil
}

func (c *PagerDutyConfig) validate() error {
	if c.URL == "" {
		c.URL = "https://events.pagerduty.com/v2/enqueue"
	}
	if err := checkURL(c.URL); err != nil {
		return err
	}
	if c.RoutingKey == "" {
		return errors.New("routing_key: the integration key of an Events API v2 integration is required")
	}
	if c.Client == "" {
		c.Client = "quell"
	}
	_, err := parse("source", c.Source)
	return err
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an http(s) URL such as https://example.com", s)
	}
	return nil
}

// auth wants either a user and a secret (basic auth) or a bearer token.
func auth(user, secret, token, userField, secretField string) error {
	switch {
	case token != "" && (user != "" || secret != ""):
		return fmt.Errorf("token: set either token or %s and %s, not both", userField, secretField)
	case token == "" && (user == "" || secret == ""):
		return fmt.Errorf("%s and %s (basic auth) or token (bearer) are required", userField, secretField)
	}
	return nil
}
