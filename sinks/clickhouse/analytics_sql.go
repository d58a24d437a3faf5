package clickhouse

import "fmt"

// spec is one analytic: its result columns and its SQL for a span.
//
// Counting rules (see migrations/): rows may be duplicated until parts
// merge, so occurrences are counted as distinct event ids (uniqExact, or
// the hourly rollups' uniqExact states) and incidents read with FINAL.
// IN and JOIN over another table are GLOBAL: on a cluster (MigrateCluster)
// tables are sharded by different keys, so the other side is read once,
// whole, and sent to every shard; on one server GLOBAL changes nothing.
// Only numbers are spliced into SQL, never text from a request.
type spec struct {
	cols []Column
	sql  func(s span) string
}

var specs = map[QueryType]spec{
	// An alert is a firing occurrence (repeats included); an incident
	// belongs to the source of the alert that created it.
	CompressionBySource: {
		cols: []Column{{"source", KindString}, {"alerts", KindCount}, {"incidents", KindCount}, {"compression", KindFloat}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT source, sum(firing) AS alerts, sum(created) AS incidents,
				if(alerts = 0, 0, 1 - incidents / alerts) AS compression
			FROM (%s) GROUP BY source ORDER BY alerts DESC, source`, firingAndCreated(s.hourly(), "source", "source"))
		},
	},
	CompressionOverTime: {
		cols: []Column{{"time", KindTime}, {"source", KindString}, {"compression", KindFloat}},
		sql: func(s span) string {
			s = s.hourly()
			return fmt.Sprintf(`SELECT time, source, if(sum(firing) = 0, 0, 1 - sum(created) / sum(firing)) AS compression
			FROM (%s) GROUP BY time, source ORDER BY time, source`,
				firingAndCreated(s, fmt.Sprintf("toDateTime(intDiv(toUInt32(hour), %d) * %[1]d) AS time, source", s.step), "time, source"))
		},
	},
	NoisyAlerts: {
		cols: []Column{{"alertname", KindString}, {"service", KindString}, {"occurrences", KindCount}, {"resolves", KindCount}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT alertname, service,
				uniqExactMergeIf(occurrences, status = 'firing') AS firing,
				uniqExactMergeIf(occurrences, status = 'resolved') AS resolves
			FROM alerts_hourly WHERE %s
			GROUP BY alertname, service ORDER BY firing DESC, alertname, service LIMIT %d`, s.hourly().where("hour"), s.limit)
		},
	},
	// A flap is a re-fire of one alert (fingerprint) after it resolved;
	// suppressed counts the occurrences the correlator held back as flapping.
	FlappingAlerts: {
		cols: []Column{{"alertname", KindString}, {"service", KindString}, {"fingerprint", KindString}, {"refires", KindCount}, {"suppressed", KindCount}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT alertname, service, toString(fingerprint) AS fp,
				toUInt64(uniqExactIf(event_id, status = 'firing') - 1) AS refires,
				uniqExactIf(event_id, action = 'suppressed') AS suppressed
			FROM alert_state_changes WHERE %s
			GROUP BY alertname, service, fp HAVING refires > 0
			ORDER BY refires DESC, suppressed DESC, fp LIMIT %d`, s.where("event_time"), s.limit)
		},
	},
	// A resolve nobody acted on: the source resolved the alert and its
	// incident has no ITSM event (acknowledged, assigned, resolved; people's
	// actions in quell are events of system quell). Where nobody acts in
	// quell or an ITSM tool, that is every resolve: an upper bound of what
	// resolved on its own.
	AutoResolvedAlerts: {
		cols: []Column{{"alertname", KindString}, {"service", KindString}, {"auto_resolved", KindCount}, {"incidents", KindCount}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT alertname, service, uniqExact(event_id) AS auto_resolved, uniqExact(incident_id) AS incidents
			FROM decisions
			WHERE action = 'resolved' AND %s AND incident_id GLOBAL NOT IN (SELECT incident_id FROM itsm_events)
			GROUP BY alertname, service ORDER BY auto_resolved DESC, alertname, service LIMIT %d`, s.where("event_time"), s.limit)
		},
	},
	// Alerts are alertname/service; ratio is the share of the rarer one's
	// incidents that hold both (1: they never fire apart). Pairs seen once
	// are left out as chance.
	CoOccurringAlerts: {
		cols: []Column{{"alert_a", KindString}, {"alert_b", KindString}, {"together", KindCount},
			{"a_incidents", KindCount}, {"b_incidents", KindCount}, {"ratio", KindFloat}},
		// One scan: each incident's alerts give every pair (i < j) and, as
		// (a, a), each alert's own incident count; the counts are gathered
		// into arrays once and looked up per pair, instead of joining two
		// more scans of the decisions.
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT alert_a, alert_b, together, a_incidents, b_incidents,
				together / least(a_incidents, b_incidents) AS ratio
			FROM (
				SELECT p.1 AS alert_a, p.2 AS alert_b, p.3 AS together,
					ns[indexOf(singles, alert_a)] AS a_incidents, ns[indexOf(singles, alert_b)] AS b_incidents
				FROM (
					SELECT groupArrayIf((a, b, n), a != b AND n > 1) AS pairs,
						groupArrayIf(a, a = b) AS singles, groupArrayIf(n, a = b) AS ns
					FROM (
						SELECT ks[i] AS a, arrayJoin(arraySlice(ks, i)) AS b, count() AS n
						FROM (SELECT incident_id, arraySort(groupUniqArray(concat(alertname, '/', service))) AS ks
							FROM decisions WHERE action IN ('created', 'joined') AND %s GROUP BY incident_id)
						ARRAY JOIN arrayEnumerate(ks) AS i
						GROUP BY a, b
					)
				)
				ARRAY JOIN pairs AS p
			)
			ORDER BY ratio DESC, together DESC, alert_a, alert_b LIMIT %d`, s.where("event_time"), s.limit)
		},
	},
	// An incident belongs to the service of the alert that created it. MTTR
	// (created to resolved) is always known; MTTA only where someone
	// acknowledged, in quell or an ITSM tool, else NULL.
	ServiceResponse: {
		cols: []Column{{"service", KindString}, {"incidents", KindCount}, {"resolved", KindCount}, {"mttr_seconds", KindNullFloat},
			{"acknowledged", KindCount}, {"mtta_seconds", KindNullFloat}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT service, count() AS incidents, countIf(resolved > 0) AS resolved_n,
				if(resolved_n = 0, NULL, avgIf(resolved - created, resolved > 0)) AS mttr,
				countIf(acked > 0) AS acked_n,
				if(acked_n = 0, NULL, avgIf(acked - created, acked > 0)) AS mtta
			FROM (
				SELECT incident_id, created, resolved, service FROM (
					SELECT incident_id, toUInt32(created_at) + created_at_ms / 1000 AS created,
						if(status = 'resolved', toUInt32(resolved_at) + resolved_at_ms / 1000, 0) AS resolved
					FROM incidents FINAL WHERE %s
				) AS i GLOBAL ANY INNER JOIN (
					SELECT incident_id, any(service) AS service FROM decisions
					WHERE action = 'created' AND %s GROUP BY incident_id
				) AS c USING incident_id
			) AS r GLOBAL ANY LEFT JOIN (
				SELECT incident_id, min(toUInt32(at) + at_ms / 1000) AS acked FROM itsm_events
				WHERE kind = 'acknowledged' GROUP BY incident_id
			) AS a USING incident_id
			GROUP BY service ORDER BY incidents DESC, service`, s.where("created_at"), s.where("event_time"))
		},
	},
	IncidentTrend: {
		cols: []Column{{"time", KindTime}, {"incidents", KindCount}, {"mean_alerts", KindFloat}, {"max_alerts", KindCount}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT toDateTime(intDiv(toUInt32(created_at), %d) * %[1]d) AS time,
				count() AS incidents, avg(alert_count) AS mean_alerts, toUInt64(max(alert_count)) AS max_alerts
			FROM incidents FINAL WHERE %s GROUP BY time ORDER BY time`, s.step, s.where("created_at"))
		},
	},
	DecisionsOverTime: {
		cols: []Column{{"time", KindTime}, {"action", KindString}, {"decisions", KindCount}},
		sql: func(s span) string {
			s = s.hourly()
			return fmt.Sprintf(`SELECT toDateTime(intDiv(toUInt32(hour), %d) * %[1]d) AS time, action, uniqExactMerge(decisions) AS n
			FROM decisions_hourly WHERE %s GROUP BY time, action ORDER BY time, action`, s.step, s.where("hour"))
		},
	},
	// How alerts joined incidents: the evidence a joined alert's reason
	// names first ("score 0.81: 2 hops (a -> b), 14s after ..."); "time"
	// when time was all; "other" is a reason these patterns do not know.
	GroupingReasons: {
		cols: []Column{{"reason", KindString}, {"decisions", KindCount}},
		sql: func(s span) string {
			const head = "substring(reason, position(reason, ': ') + 2, 200)"
			return fmt.Sprintf(`SELECT multiIf(
					action = 'created', 'opened a new incident',
					reason LIKE 'fired again%%', 'reopened its incident',
					%[1]s LIKE 'shares %%', 'shared entity',
					%[1]s LIKE 'on graph node %%' OR match(%[1]s, '^[0-9]+ hops? '), 'graph path',
					%[1]s LIKE 'the same alert%%', 'same alert',
					reason LIKE 'score %%', 'time',
					'other') AS kind,
				uniqExact(event_id) AS n
			FROM decisions WHERE action IN ('created', 'joined') AND %[2]s
			GROUP BY kind ORDER BY n DESC, kind`, head, s.where("event_time"))
		},
	},
	// An alert is a fingerprint; it has a runbook when any of its
	// occurrences carried a runbook_url annotation.
	RunbookCoverage: {
		cols: []Column{{"service", KindString}, {"alerts", KindCount}, {"with_runbook", KindCount}, {"coverage", KindFloat}},
		sql: func(s span) string {
			return fmt.Sprintf(`SELECT service, uniqExact(fingerprint) AS alerts,
				uniqExactIf(fingerprint, has(annotation_keys, 'runbook_url')) AS with_runbook,
				with_runbook / alerts AS coverage
			FROM alerts WHERE %s
			GROUP BY service ORDER BY alerts DESC, service LIMIT %d`, s.where("event_time"), s.limit)
		},
	},
	// An incident recurs when an earlier one of its signature was created
	// in the recurWindow before it; it belongs to the service of the alert
	// that created it. Per signature, the incidents of the span and of the
	// window before it are sorted by creation, and each is compared with
	// the one before (lambdas take arrays, not columns, on 18.16: the times
	// before are the times shifted by one).
	RecurringIncidents: {
		cols: []Column{{"service", KindString}, {"incidents", KindCount}, {"recurring", KindCount}, {"rate", KindFloat}},
		sql: func(s span) string {
			back := span{from: max(s.from-recurWindow, 0), to: s.to}
			return fmt.Sprintf(`SELECT service, count() AS incidents, sum(recurs) AS recurring, recurring / incidents AS rate
			FROM (
				SELECT x.1 AS incident_id, x.2 AS recurs, x.3 AS created FROM (
					SELECT arrayJoin(arrayMap((id, t, before, k) -> (id, toUInt64(k > 1 AND t - before <= %[1]d), t),
						ids, times, arrayPushFront(arrayPopBack(times), toUInt32(0)), arrayEnumerate(ids))) AS x
					FROM (
						SELECT arraySort((id, t) -> t, groupArray(incident_id), groupArray(toUInt32(created_at))) AS ids,
							arraySort(groupArray(toUInt32(created_at))) AS times
						FROM incidents FINAL WHERE signature != '' AND %[2]s GROUP BY signature
					)
				) WHERE created >= %[3]d AND created < %[4]d
			) AS r GLOBAL ANY INNER JOIN (
				SELECT incident_id, any(service) AS service FROM decisions
				WHERE action = 'created' AND %[5]s GROUP BY incident_id
			) AS c USING incident_id
			GROUP BY service ORDER BY incidents DESC, service LIMIT %[6]d`,
				recurWindow, back.where("created_at"), s.from, s.to, back.where("event_time"), s.limit)
		},
	},
}

// recurWindow is how far back, in seconds, an incident of the same kind
// makes one recurring: 30 days.
const recurWindow = 30 * 24 * 3600

// where limits a DateTime column to the span.
func (s span) where(col string) string {
	return fmt.Sprintf("%[1]s >= toDateTime(%[2]d) AND %[1]s < toDateTime(%[3]d)", col, s.from, s.to)
}

// firingAndCreated is firing occurrences and created incidents side by
// side: keys selects from hour and source, group names them.
func firingAndCreated(s span, keys, group string) string {
	return fmt.Sprintf(`SELECT %[1]s, uniqExactMerge(occurrences) AS firing, toUInt64(0) AS created
		FROM alerts_hourly WHERE status = 'firing' AND %[2]s GROUP BY %[3]s
		UNION ALL
		SELECT %[1]s, toUInt64(0) AS firing, uniqExactMerge(decisions) AS created
		FROM decisions_hourly WHERE action = 'created' AND %[2]s GROUP BY %[3]s`, keys, s.where("hour"), group)
}
