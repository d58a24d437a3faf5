-- Version 3: repeats counted, not stored. A repeat (a firing alert sent
-- again, unchanged) is most of a noisy system's traffic and tells nothing
-- but that it happened: the sink inserts it into repeats, a Null table that
-- keeps no rows, whose views count it exactly (uniqExact of its event id,
-- so a redelivered batch counts once) per fingerprint and minute in
-- alert_repeats and in the hourly rollups the noise panels read. Its
-- occurrence and decision rows are written only with clickhouse.store_repeats.
CREATE TABLE IF NOT EXISTS repeats (
    event_id UInt64,
    fingerprint FixedString(16),
    source String,
    status String,
    severity String,
    alertname String,
    service String,
    event_time DateTime
) ENGINE = Null;

-- Repeats per fingerprint and minute. Read with
-- uniqExactMerge(occurrences) ... GROUP BY fingerprint (and minute).
CREATE TABLE IF NOT EXISTS alert_repeats (
    minute DateTime,
    fingerprint FixedString(16),
    source String,
    alertname String,
    service String,
    status String,
    occurrences AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (fingerprint, minute, source, alertname, service, status);

CREATE MATERIALIZED VIEW IF NOT EXISTS alert_repeats_mv TO alert_repeats AS
SELECT
    toStartOfMinute(event_time) AS minute,
    fingerprint, source, alertname, service, status,
    uniqExactState(event_id) AS occurrences
FROM repeats
GROUP BY minute, fingerprint, source, alertname, service, status;

-- The hourly rollups count repeats from here as they count the other
-- occurrences from alerts and decisions; with store_repeats a repeat
-- reaches them both ways under one event id, counted once.
CREATE MATERIALIZED VIEW IF NOT EXISTS repeats_alerts_hourly_mv TO alerts_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    source, alertname, service, severity, status,
    uniqExactState(event_id) AS occurrences
FROM repeats
GROUP BY hour, source, alertname, service, severity, status;

CREATE MATERIALIZED VIEW IF NOT EXISTS repeats_decisions_hourly_mv TO decisions_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    source, 'deduplicated' AS action,
    uniqExactState(event_id) AS decisions
FROM repeats
GROUP BY hour, source, action;

-- The repeats stored as rows before version 3, counted per minute too
-- (idempotent: the same event ids merge into the same counts). Those rows
-- stay until the retention (TTL) removes them.
INSERT INTO alert_repeats
SELECT
    toStartOfMinute(event_time) AS minute,
    fingerprint, source, alertname, service, status,
    uniqExactState(event_id) AS occurrences
FROM decisions
WHERE action = 'deduplicated'
GROUP BY minute, fingerprint, source, alertname, service, status;
