package ingest

// sniff guesses which sender's format a body is in, from the top-level keys
// each sender always includes, and says where such a body belongs. It only
// feeds error messages: a body sent to the wrong route gets told where to go.
func sniff(body []byte) string {
	s := scanner{b: body}
	switch s.peek() {
	case '[':
		return "Prometheus/Alertmanager v2 alerts, a JSON array (POST those to " + PathAlertsV2 + ")"
	case '{':
	default:
		return ""
	}
	has := map[string]bool{}
	n := 0
	err := s.object(func(key []byte) error {
		has[string(key)] = true
		n++
		return s.skip()
	})
	if err != nil {
		return ""
	}
	switch {
	case has["alerts"] && (has["groupKey"] || has["receiver"]):
		return "an Alertmanager or Grafana webhook message (POST those to " + PathAlertmanager + ")"
	case has["routing_key"] || has["event_action"]:
		return "a PagerDuty Events API v2 event, which quell does not ingest (PagerDuty is one of quell's destinations)"
	case has["event"] && n == 1:
		return "a PagerDuty webhook (v3), which quell does not ingest (PagerDuty is one of quell's destinations)"
	case has["integrationId"] || has["action"] && has["alert"]:
		return "an Opsgenie webhook, which quell does not ingest"
	case has["result"] && (has["sid"] || has["search_name"]):
		return "a Splunk webhook alert action (POST those to " + PathSplunk + ")"
	case has["alert_transition"] || has["alert_id"] || has["event_type"] || has["last_updated"]:
		return "a Datadog webhook (POST those to " + PathDatadog + ")"
	}
	return ""
}

// hint turns sniff's guess into the tail of an error message.
func hint(body []byte) string {
	if g := sniff(body); g != "" {
		return "; the body looks like " + g
	}
	return ""
}
