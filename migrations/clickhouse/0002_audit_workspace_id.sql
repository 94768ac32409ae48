-- A workspace is its name and its cluster together: events carry the workspace's identity
-- (``name@cluster-fingerprint``) and workspace audit reads match on it, never on the name.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: apply_ddl skips this when the column exists.
ALTER TABLE audit_events ADD COLUMN workspace_id String DEFAULT ''
