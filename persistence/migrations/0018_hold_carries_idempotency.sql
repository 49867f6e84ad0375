-- Allot schema: a hold can carry its own idempotency entry. The entry a placed hold makes is
-- all its hold's (key, hold id, creation time, and the fingerprint of the hold's buckets,
-- quantity and user, none of which changes once placed: actors/booking/idempotency.go), so
-- the PostgreSQL store no longer writes it to idempotency_keys as a second row, with a second
-- B-tree entry at a random place of that table's primary key, for every durable hold: it sets
-- idem_entry on the hold and, at activation, reads the entries of the resource's holds
-- created since the retention's start back through holds_by_resource (docs/PERFORMANCE.md,
-- round 13). Other entries (renewals', waitlist joins') and those written before this step
-- stay in idempotency_keys. An activation's prune of the keys created before its idemSince
-- cannot delete a hold's entry (the hold stays): it raises the resource's idem_floor_ms
-- instead, below which no hold's entry is read again. Defaults that are constants: no table
-- rewrite on PostgreSQL 11+ (docs/OPERATIONS.md). Shared by SQLite, PostgreSQL and
-- CockroachDB; SQLite keeps its keys in idempotency_keys and leaves both at their defaults.
ALTER TABLE holds ADD COLUMN IF NOT EXISTS idem_entry BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS idem_floor_ms BIGINT NOT NULL DEFAULT 0;
