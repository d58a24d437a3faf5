-- Version 2: what the noise analytics (analytics.go) need to stay fast at
-- millions of alerts without joins, and the ITSM state for MTTA.
--
-- 18.16 has no ADD COLUMN IF NOT EXISTS: Migrate skips an ADD COLUMN whose
-- column already exists, so a run cut short can run again.

-- The alert's name and service beside each decision and state change:
-- co-occurrence, flapping and per-service response group by them.
-- Rows written before version 2 keep '' here.
ALTER TABLE decisions ADD COLUMN alertname String AFTER status;
ALTER TABLE decisions ADD COLUMN service String AFTER alertname;
ALTER TABLE alert_state_changes ADD COLUMN alertname String AFTER status;
ALTER TABLE alert_state_changes ADD COLUMN service String AFTER alertname;

-- What ITSM tools did with an incident (Writer.WriteITSMEvents): kind is
-- acknowledged, assigned or resolved; system names the tool (servicenow,
-- jira, pagerduty). MTTA is the first acknowledgement after creation.
-- event_id: xxhash64 of incident, system, kind and time.
CREATE TABLE IF NOT EXISTS itsm_events (
    event_id UInt64,
    incident_id String,
    system String,
    kind String,
    actor String,
    at DateTime,
    at_ms UInt16
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (incident_id, at, event_id);
