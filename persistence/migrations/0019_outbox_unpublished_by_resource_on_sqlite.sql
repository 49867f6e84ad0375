-- Allot schema: the index of 0017 on SQLite too. A one-node store's claim now keeps, per
-- resource, a prefix of the resource's unpublished events in version order, as PostgreSQL's
-- does (persistence.PrefixClaim, docs/EVENTS.md, Ordering): under a backlog it counts a
-- claimed resource's unpublished rows up to its last claimed one (persistence/sqlite/claims.go),
-- which without an index that leads with the resource reads the whole backlog. SQLite skipped
-- step 17, so files made before this step lack the index. Partial, as in 0017: a mark removes
-- the row's entry. On PostgreSQL and CockroachDB the index exists already and this does nothing.
CREATE INDEX IF NOT EXISTS outbox_unpublished_by_resource ON outbox (resource_id, version, idx)
    WHERE published_at_ms = 0;
