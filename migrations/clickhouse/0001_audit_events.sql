-- Audit events, shipped from the Postgres outbox.  Works on ClickHouse 18.16 and current
-- releases: no DateTime64, no LowCardinality, no TTL.  ReplacingMergeTree on event_id in the
-- sorting key is a backstop; the shipper already skips event_ids that are present.
CREATE TABLE IF NOT EXISTS audit_events (
    event_id String,
    seq UInt64,
    time DateTime,
    time_ms UInt16,
    kind String,
    actor String,
    outcome String,
    hexabase_user String,
    workspace String,
    namespace String,
    request_id String,
    session_id String,
    resource_kind String,
    resource_name String,
    confirmation_id String,
    confirmation_state String,
    approver String,
    error String,
    duration_ms UInt32,
    api_audit_id String,
    event String,
    prev_hash String,
    hash String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (workspace, actor, time, event_id)
