-- The audit chain in partitions: each event's partition (its seq counts within it).  Rows
-- shipped before partitions existed take the default, 0, which is where the Postgres migration
-- put them too.  ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: apply_ddl skips this when
-- the column exists.
ALTER TABLE audit_events ADD COLUMN part Int32 DEFAULT 0
