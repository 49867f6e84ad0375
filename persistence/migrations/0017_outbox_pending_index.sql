-- Allot schema: the outbox's index for claims holds only the unpublished rows, in the claim's
-- order. outbox_unpublished (published_at_ms, occurred_at_ms) had an entry for every row ever
-- written, and marking a row published (an update of an indexed column, so never a heap-only
-- update on PostgreSQL) added a second entry for it, kept until the row was pruned after the
-- event retention (7 days). A partial index takes no entry for a row version that is
-- published: the relay's mark writes one index entry (the primary key's) instead of two, the
-- index stays as small as the relay's backlog, and its order (occurred_at_ms, resource_id,
-- version, idx) is the claim's ORDER BY, so a claim reads it in order with no sort
-- (docs/PERFORMANCE.md, round 12). Partial indexes: PostgreSQL, CockroachDB (20.2+) and
-- SQLite alike; the claim, the backlog count and the prefix check all say
-- published_at_ms = 0, which is the index's predicate.
DROP INDEX IF EXISTS outbox_unpublished;
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (occurred_at_ms, resource_id, version, idx) WHERE published_at_ms = 0;
