-- requires: 21.8
-- Version 4, on ClickHouse 21.8 and later only (quell migrate skips it on
-- older servers and applies it once the server is upgraded): the strings
-- that take few values become LowCardinality, and every alert also gets
-- its labels and annotations as Maps and its times as DateTime64(3),
-- computed from the columns every version has. quell writes the same rows
-- to every server; on these, queries may use either form, e.g.
-- SELECT labels['namespace'], event_time64 FROM alerts.
ALTER TABLE alerts
    MODIFY COLUMN source LowCardinality(String),
    MODIFY COLUMN status LowCardinality(String),
    MODIFY COLUMN severity LowCardinality(String),
    MODIFY COLUMN alertname LowCardinality(String),
    MODIFY COLUMN service LowCardinality(String);

ALTER TABLE alerts
    ADD COLUMN IF NOT EXISTS labels Map(String, String) MATERIALIZED CAST((label_keys, label_values), 'Map(String, String)'),
    ADD COLUMN IF NOT EXISTS annotations Map(String, String) MATERIALIZED CAST((annotation_keys, annotation_values), 'Map(String, String)'),
    ADD COLUMN IF NOT EXISTS event_time64 DateTime64(3) MATERIALIZED toDateTime64(toUInt32(event_time) + event_time_ms / 1000, 3),
    ADD COLUMN IF NOT EXISTS received_at64 DateTime64(3) MATERIALIZED toDateTime64(toUInt32(received_at) + received_at_ms / 1000, 3);

ALTER TABLE decisions
    MODIFY COLUMN source LowCardinality(String),
    MODIFY COLUMN status LowCardinality(String),
    MODIFY COLUMN action LowCardinality(String);

ALTER TABLE decisions
    ADD COLUMN IF NOT EXISTS event_time64 DateTime64(3) MATERIALIZED toDateTime64(toUInt32(event_time) + event_time_ms / 1000, 3),
    ADD COLUMN IF NOT EXISTS decided_at64 DateTime64(3) MATERIALIZED toDateTime64(toUInt32(decided_at) + decided_at_ms / 1000, 3);

ALTER TABLE alert_state_changes
    MODIFY COLUMN source LowCardinality(String),
    MODIFY COLUMN status LowCardinality(String),
    MODIFY COLUMN action LowCardinality(String);
