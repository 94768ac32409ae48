-- Anchors: each records every partition's head and is itself hash-chained (seq, prev_hash,
-- hash over the JSON in `anchor`).  Works on ClickHouse 18.16 and current releases: no
-- DateTime64, no LowCardinality, no TTL.  ReplacingMergeTree on seq is a backstop; the shipper
-- skips anchors that are present.
CREATE TABLE IF NOT EXISTS audit_anchors (
    seq UInt64,
    time DateTime,
    anchor String,
    prev_hash String,
    hash String
) ENGINE = ReplacingMergeTree()
ORDER BY seq
