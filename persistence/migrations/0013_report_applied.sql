-- Allot schema: the events the report rollups (api/reports) have applied, by id. The reports
-- consumer is shared by the nodes and the bus may redeliver an event after later events of
-- its resource (a failed first delivery, two nodes handling one resource's events at once),
-- so "skip what is at or below the resource's watermark" would drop such an event: an event
-- is applied once by its id instead, the id inserted in the transaction of its counters.
-- report_resources' watermark now only orders what is known of the resource (name, time zone,
-- price). Rows older than the bus's retention can never be redelivered and are pruned
-- (SQLStore.PruneApplied). Shared by SQLite, PostgreSQL and CockroachDB.
CREATE TABLE IF NOT EXISTS report_applied (
    event_id       TEXT PRIMARY KEY,
    occurred_at_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS report_applied_by_time ON report_applied (occurred_at_ms);

-- Keys the reports keep for themselves, made once by the first node that needs one and then
-- read by every node: 'views' keys the hash that stands for a user in report_views, so that
-- one user counts once whichever node answered, and the table holds no user id.
CREATE TABLE IF NOT EXISTS report_keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
