-- quell's ClickHouse schema, version 1.
--
-- Runs on ClickHouse 18.16 and on current releases: no DateTime64, TTL, Map
-- or LowCardinality. Times are a DateTime (seconds, 0 when unset) plus a
-- UInt16 column with the milliseconds within that second; label and
-- annotation maps are two arrays each, sorted by key.
--
-- Every table is a ReplacingMergeTree whose sorting key ends in the row's
-- identity (event_id, or incident id and seq), so a batch delivered twice
-- collapses to one row once parts merge. Until then duplicates are visible:
-- queries must read with FINAL (SELECT ... FROM alerts FINAL) or aggregate
-- by identity (argMax(col, seq) GROUP BY incident_id, uniqExact(event_id)).

-- One row per received alert occurrence, repeats included.
-- event_id: xxhash64 of the occurrence's identity (see eventID in rows.go).
CREATE TABLE IF NOT EXISTS alerts (
    event_id UInt64,
    fingerprint FixedString(16),
    source String,
    status String,
    severity String,
    alertname String,
    service String,
    label_keys Array(String),
    label_values Array(String),
    annotation_keys Array(String),
    annotation_values Array(String),
    event_time DateTime,
    event_time_ms UInt16,
    starts_at DateTime,
    starts_at_ms UInt16,
    ends_at DateTime,
    ends_at_ms UInt16,
    received_at DateTime,
    received_at_ms UInt16,
    generator_url String,
    source_fingerprint String,
    raw String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (fingerprint, event_time, event_id);

-- The decision log: one row per occurrence, naming its incident and why.
-- A re-processed occurrence replaces its earlier decision (same event_id;
-- the sorting key holds only the occurrence's identity, not the outcome).
CREATE TABLE IF NOT EXISTS decisions (
    event_id UInt64,
    fingerprint FixedString(16),
    source String,
    status String,
    event_time DateTime,
    event_time_ms UInt16,
    decided_at DateTime,
    decided_at_ms UInt16,
    incident_id String,
    action String,
    reason String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (fingerprint, event_time, event_id);

-- Alert state changes: the decisions that changed an alert's state, i.e.
-- all but repeats (action deduplicated). Suppressed ones stay: a flap is a
-- change even when it moves no incident.
CREATE TABLE IF NOT EXISTS alert_state_changes (
    event_id UInt64,
    fingerprint FixedString(16),
    source String,
    status String,
    event_time DateTime,
    event_time_ms UInt16,
    incident_id String,
    action String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (fingerprint, event_time, event_id);

-- Incidents as of their latest change: the highest seq wins on merge.
-- Read with FINAL, or argMax(col, seq) ... GROUP BY incident_id.
CREATE TABLE IF NOT EXISTS incidents (
    incident_id String,
    seq UInt64,
    status String,
    title String,
    severity String,
    created_at DateTime,
    created_at_ms UInt16,
    updated_at DateTime,
    updated_at_ms UInt16,
    resolved_at DateTime,
    resolved_at_ms UInt16,
    alert_count UInt32
) ENGINE = ReplacingMergeTree(seq)
ORDER BY incident_id;

-- Every change of every incident, the incident as it was after it.
CREATE TABLE IF NOT EXISTS incident_changes (
    incident_id String,
    seq UInt64,
    kind String,
    changed_at DateTime,
    changed_at_ms UInt16,
    status String,
    title String,
    severity String,
    created_at DateTime,
    created_at_ms UInt16,
    updated_at DateTime,
    updated_at_ms UInt16,
    resolved_at DateTime,
    resolved_at_ms UInt16,
    alert_count UInt32
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(changed_at)
ORDER BY (incident_id, seq);

-- Which alerts are in which incident, and why. Each change lists all
-- members; first_seq_inv (max UInt64 - seq) makes the merge keep the row of
-- the first change that listed the alert, so joined_at is when it joined.
CREATE TABLE IF NOT EXISTS incident_members (
    incident_id String,
    fingerprint FixedString(16),
    source String,
    reason String,
    joined_at DateTime,
    joined_at_ms UInt16,
    first_seq_inv UInt64
) ENGINE = ReplacingMergeTree(first_seq_inv)
ORDER BY (incident_id, fingerprint);

-- Records the sink could not store (permanent errors), kept for audit and
-- replay. event_id: xxhash64 of stage, reason, time and payload.
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id UInt64,
    stage String,
    reason String,
    failed_at DateTime,
    failed_at_ms UInt16,
    payload String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(failed_at)
ORDER BY (failed_at, event_id);

-- Hourly alert occurrences by source, alertname, service, severity and
-- status, in the alerts' event time. The view sees every inserted block, so
-- a redelivered batch reaches it twice: counting distinct event ids
-- (uniqExact) instead of summing keeps the count right. Read with
-- uniqExactMerge(occurrences) ... GROUP BY any subset of the key.
CREATE TABLE IF NOT EXISTS alerts_hourly (
    hour DateTime,
    source String,
    alertname String,
    service String,
    severity String,
    status String,
    occurrences AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, source, alertname, service, severity, status);

CREATE MATERIALIZED VIEW IF NOT EXISTS alerts_hourly_mv TO alerts_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    source, alertname, service, severity, status,
    uniqExactState(event_id) AS occurrences
FROM alerts
GROUP BY hour, source, alertname, service, severity, status;

-- Hourly decisions by source and action: how much noise dedupe and
-- correlation removed. Same counting as alerts_hourly.
CREATE TABLE IF NOT EXISTS decisions_hourly (
    hour DateTime,
    source String,
    action String,
    decisions AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, source, action);

CREATE MATERIALIZED VIEW IF NOT EXISTS decisions_hourly_mv TO decisions_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    source, action,
    uniqExactState(event_id) AS decisions
FROM decisions
GROUP BY hour, source, action;
