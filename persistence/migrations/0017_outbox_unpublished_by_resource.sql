-- Allot schema: the relay's prefix check reads a claimed resource's unpublished rows by
-- (resource, version, index) (persistence/postgres/outbox.go, sqlUnpublishedUpTo): without an
-- index that leads with the resource, every claim read the whole unpublished backlog, and a
-- relay that fell behind fell further behind (docs/PERFORMANCE.md, round 12). Partial, so a
-- mark (published_at_ms set) adds no entry to it. Shared by SQLite, PostgreSQL and
-- CockroachDB (SQLite claims in memory and does not read it).
CREATE INDEX IF NOT EXISTS outbox_unpublished_by_resource ON outbox (resource_id, version, idx)
    WHERE published_at_ms = 0;
