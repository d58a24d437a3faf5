package itsm

import (
	"net/url"
	"strings"
)

// TicketLink is one of an incident's tickets as people open it.
type TicketLink struct {
	Sink   string `json:"sink"` // kind/name, as configured
	ID     string `json:"id"`
	Number string `json:"number,omitempty"`
	// URL opens the ticket in the tool; empty for PagerDuty, whose Events
	// API tells no address of the incident it opens.
	URL string `json:"url,omitempty"`
}

// Links lists incident's tickets in store, with where each opens.
func (c Config) Links(store *Store, incident string) []TicketLink {
	bases := map[string]func(Ticket) string{}
	for _, s := range c.ServiceNow {
		base, table := strings.TrimRight(s.URL, "/"), s.Table
		bases["servicenow/"+s.Name] = func(t Ticket) string {
			return base + "/nav_to.do?uri=" + url.QueryEscape(table+".do?sys_id="+t.ID)
		}
	}
	for _, j := range c.Jira {
		base := strings.TrimRight(j.URL, "/")
		bases["jira/"+j.Name] = func(t Ticket) string { return base + "/browse/" + url.PathEscape(t.ID) }
	}
	var out []TicketLink
	for _, r := range store.Tickets(incident) {
		l := TicketLink{Sink: r.Sink, ID: r.Ticket.ID, Number: r.Ticket.Number}
		if f := bases[r.Sink]; f != nil && r.Ticket.ID != "" {
			l.URL = f(r.Ticket)
		}
		out = append(out, l)
	}
	return out
}
