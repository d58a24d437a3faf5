package ingest

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quellhq/quell"
)

// ParseDatadogWebhook reads a Datadog webhook integration body. Its payload
// is a template each user writes, so no field is guaranteed: the parser
// recognizes the names Datadog's default payload and documentation use for
// its $VARIABLES, and what the body lacks it derives or leaves out.
//
// Labels, the alert's identity, are what stays the same from Triggered to
// Recovered:
//   - tags ($TAGS, as "tags" or "event_tags", one comma-separated string):
//     "k:v" becomes k=v (a repeated key's values are sorted and joined with
//     ","); a bare tag t becomes t="true", unless a "t:v" tag sets t;
//   - alertname: the title ($EVENT_TITLE) without Datadog's "[Triggered on
//     {scope}]" or "[P1]" prefixes, which change with every transition;
//   - monitor_id ($ALERT_ID), scope ($ALERT_SCOPE, else the title's "on
//     {scope}"; its items sorted) and host ($HOSTNAME) when present.
//
// Status comes from the transition ($ALERT_TRANSITION, else the title's
// prefix): Triggered, Re-Triggered, Warn, No Data and Renotify fire,
// Recovered resolves. Severity comes from the priority ($ALERT_PRIORITY
// P1–P5), else $ALERT_TYPE; default warning. The date
// ($DATE, epoch milliseconds) is when the firing began or the alert
// recovered. The title, body, link and other known fields go to annotations
// and GeneratorURL; unknown fields (and secrets users put in templates) stay
// only in Raw, the whole body.
//
// A value that is still a bare $VARIABLE was not rendered; it counts as
// absent. A body whose every value is one is Datadog's payload template
// itself (pasted, not sent by Datadog), and is rejected as such.
func ParseDatadogWebhook(body []byte, now time.Time) ([]quell.Alert, error) {
	return parseDatadogWebhook(body, now, limits{})
}

// parseDatadogWebhook is ParseDatadogWebhook within lim.
func parseDatadogWebhook(body []byte, now time.Time, lim limits) ([]quell.Alert, error) {
	s := scanner{b: body}
	if k := kindOf(s.peek()); k != "" && k != "an object" {
		return nil, problemf("want a Datadog webhook payload (a JSON object), got %s%s", k, hint(body))
	}
	var f ddFields
	values, vars := 0, []string(nil)
	set := func(dst *string, key []byte) error {
		v, ok, err := s.scalar()
		if err != nil {
			return at(string(key), err)
		}
		switch {
		case !ok || v == "":
		case isTemplateVar(v):
			vars = append(vars, v)
		default:
			*dst = v
			values++
		}
		return nil
	}
	err := s.object(func(key []byte) error {
		if string(key) == "org" {
			return at("org", s.object(func(k []byte) error {
				switch string(k) {
				case "id":
					return set(&f.orgID, k)
				case "name":
					return set(&f.orgName, k)
				}
				return s.skip()
			}))
		}
		if dst := f.field(string(key)); dst != nil {
			return set(dst, key)
		}
		return at(string(key), s.skip())
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, err
	}
	if g := sniff(body); g != "" && !strings.HasPrefix(g, "a Datadog") {
		return nil, problemf("not a Datadog webhook: the body looks like %s", g)
	}
	if values == 0 && len(vars) > 0 {
		return nil, problemf("the body is Datadog's payload template, not a notification: its values are unrendered variables (%s); "+
			"Datadog fills them in when it sends, so configure the template in Datadog's webhook integration and let Datadog post", strings.Join(vars, ", "))
	}
	a, err := f.alert(now, lim)
	if err != nil {
		return nil, err
	}
	a.Raw = append([]byte(nil), body...)
	return []quell.Alert{a}, nil
}

// isTemplateVar reports whether v is a bare Datadog variable like $EVENT_TITLE.
func isTemplateVar(v string) bool {
	if len(v) < 2 || v[0] != '$' {
		return false
	}
	for _, c := range []byte(v[1:]) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ddFields are the values of the fields quell recognizes in a Datadog body.
type ddFields struct {
	title, transition, monitorID, scope, host, tags, priority, alertType,
	date, lastUpdated, text, link, eventID, eventType, aggregate, query,
	metric, orgID, orgName string
}

// field maps a payload key to where its value goes; nil for unknown keys.
// Keys are the lower-case $VARIABLE names and those of Datadog's default
// payload.
func (f *ddFields) field(key string) *string {
	switch key {
	case "title", "event_title", "alert_title":
		return &f.title
	case "alert_transition", "transition":
		return &f.transition
	case "alert_id", "monitor_id":
		return &f.monitorID
	case "alert_scope", "scope":
		return &f.scope
	case "hostname", "host":
		return &f.host
	case "tags", "event_tags":
		return &f.tags
	case "alert_priority", "priority":
		return &f.priority
	case "alert_type":
		return &f.alertType
	case "date":
		return &f.date
	case "last_updated":
		return &f.lastUpdated
	case "body", "event_msg", "text", "message":
		return &f.text
	case "link", "url":
		return &f.link
	case "id", "event_id":
		return &f.eventID
	case "event_type":
		return &f.eventType
	case "aggregate", "aggreg_key":
		return &f.aggregate
	case "alert_query", "query":
		return &f.query
	case "alert_metric", "metric":
		return &f.metric
	}
	return nil
}

func (f *ddFields) alert(now time.Time, lim limits) (quell.Alert, error) {
	name, titleTransition, titleScope, titlePriority := splitDatadogTitle(f.title)
	labels, err := datadogTags(f.tags, lim)
	if err != nil {
		return quell.Alert{}, at("tags", err)
	}
	put := func(k, v string) {
		if v != "" {
			labels[k] = v
		}
	}
	put("alertname", name)
	put("monitor_id", f.monitorID)
	put("host", f.host)
	if f.scope == "" {
		f.scope = titleScope
	}
	put("scope", sortedList(f.scope))
	if err := lim.labelMap(labels); err != nil {
		return quell.Alert{}, err
	}
	if len(labels) == 0 {
		return quell.Alert{}, problemf("no field identifies the alert: the body has none of title, alert_id, alert_scope, hostname or tags; " +
			`add e.g. "alert_id": "$ALERT_ID" and "title": "$EVENT_TITLE" to the webhook's payload in Datadog`)
	}
	a := quell.Alert{Source: SourceDatadog, Labels: labels, GeneratorURL: f.link, ReceivedAt: now}

	transition := f.transition
	if transition == "" {
		transition = titleTransition
	}
	if a.Status, err = datadogStatus(transition, f.alertType); err != nil {
		return a, at("transition", err)
	}
	priority := f.priority
	if !isPriority(priority) {
		priority = titlePriority
	}
	a.Severity = datadogSeverity(priority, f.alertType)

	date := f.date
	field := "date"
	if date == "" {
		date, field = f.lastUpdated, "last_updated"
	}
	t := now
	if date != "" {
		if t, err = epochMillis(date); err != nil {
			return a, at(field, err)
		}
	}
	// Datadog does not say when a recovered alert began; dedupe knows it
	// from the firing occurrence, so StartsAt stays unknown (zero).
	if a.Status == quell.Firing {
		a.StartsAt = t
	} else {
		a.EndsAt = t
	}

	ann := map[string]string{}
	for k, v := range map[string]string{
		"summary": f.title, "description": f.text, "transition": f.transition, "priority": f.priority,
		"alert_type": f.alertType, "event_id": f.eventID, "event_type": f.eventType, "aggregate": f.aggregate,
		"query": f.query, "metric": f.metric, "org_id": f.orgID, "org_name": f.orgName,
	} {
		if v != "" {
			ann[k] = v
		}
	}
	if len(ann) > 0 {
		a.Annotations = ann
	}
	return a, a.Validate()
}

// datadogTransitions maps a transition, lower-cased with spaces and hyphens
// removed, to a status.
var datadogTransitions = map[string]quell.Status{
	"triggered": quell.Firing, "retriggered": quell.Firing, "warn": quell.Firing, "rewarn": quell.Firing,
	"nodata": quell.Firing, "renodata": quell.Firing, "renotify": quell.Firing, "recovered": quell.Resolved,
}

func normTransition(t string) string {
	return strings.NewReplacer(" ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(t)))
}

// datadogStatus maps the transition; without one, alert_type "success" (a
// recovery) resolves and anything else fires.
func datadogStatus(transition, alertType string) (quell.Status, error) {
	if transition == "" {
		if strings.EqualFold(alertType, "success") {
			return quell.Resolved, nil
		}
		return quell.Firing, nil
	}
	if st, ok := datadogTransitions[normTransition(transition)]; ok {
		return st, nil
	}
	return "", problemf("%q is not a Datadog transition: want Triggered, Re-Triggered, Warn, No Data, Renotify or Recovered", transition)
}

func isPriority(p string) bool {
	return len(p) == 2 && (p[0] == 'P' || p[0] == 'p') && p[1] >= '1' && p[1] <= '5'
}

// datadogSeverity maps priority P1–P2 to critical, P3 to warning and P4–P5
// to info; else alert_type error, warning, info or success; else warning.
func datadogSeverity(priority, alertType string) quell.Severity {
	if isPriority(priority) {
		switch priority[1] {
		case '1', '2':
			return quell.Critical
		case '3':
			return quell.Warning
		}
		return quell.Info
	}
	switch strings.ToLower(alertType) {
	case "error":
		return quell.Critical
	case "warning":
		return quell.Warning
	case "info", "success":
		return quell.Info
	}
	return quell.Warning
}

// splitDatadogTitle strips the bracketed prefixes Datadog puts before a
// monitor's name ("[P1] [Triggered on {host:a,env:b}] name") and returns the
// name and what the prefixes said. Brackets that are part of the name (say
// "[prod] disk full") are kept.
func splitDatadogTitle(title string) (name, transition, scope, priority string) {
	name = strings.TrimSpace(title)
	for strings.HasPrefix(name, "[") {
		end := strings.IndexByte(name, ']')
		if end < 0 {
			break
		}
		inner := name[1:end]
		switch {
		case isPriority(inner):
			priority = inner
		default:
			word, on, _ := strings.Cut(inner, " on ")
			if _, ok := datadogTransitions[normTransition(word)]; !ok {
				return name, transition, scope, priority
			}
			transition = word
			if on != "" {
				scope = strings.Trim(on, "{}")
			}
		}
		name = strings.TrimSpace(name[end+1:])
	}
	return name, transition, scope, priority
}

// datadogTags turns a comma-separated tag string into labels. It stops once
// there are more than lim allows, before a huge tag string becomes a huge map.
func datadogTags(tags string, lim limits) (map[string]string, error) {
	multi := map[string][]string{}
	bare := map[string]bool{}
	for t := range strings.SplitSeq(tags, ",") {
		t = strings.TrimSpace(t)
		if k, v, ok := strings.Cut(t, ":"); ok && k != "" {
			multi[k] = append(multi[k], v)
		} else if t != "" {
			bare[t] = true
		}
		if lim.labels > 0 && max(len(multi), len(bare)) > lim.labels {
			return nil, lim.tooManyLabels()
		}
	}
	labels := make(map[string]string, len(multi)+len(bare))
	for t := range bare {
		labels[t] = "true"
	}
	for k, vs := range multi {
		slices.Sort(vs)
		labels[k] = strings.Join(slices.Compact(vs), ",")
	}
	return labels, nil
}

// sortedList sorts a comma-separated list, so "a:1, b:2" and "b:2,a:1" are one scope.
func sortedList(v string) string {
	if v == "" {
		return ""
	}
	items := strings.Split(v, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	slices.Sort(items)
	return strings.Join(slices.Compact(items), ",")
}

// maxMillis is the end of year 9999, the last time JSON can hold.
const maxMillis = 253402300799999

// epochMillis reads Datadog's epoch-millisecond times. A value too small to
// be milliseconds of this century (before 1973) is taken as seconds, which a
// hand-written template may send.
func epochMillis(v string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > maxMillis {
		return time.Time{}, problemf("%q is not an epoch time in milliseconds (like 1448435530000)", v)
	}
	if n < 100_000_000_000 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.UnixMilli(n).UTC(), nil
}
