-- Allot schema: idempotency keys lose their index on age. No query used it (activation reads
-- a resource's keys through the primary key (resource_id, idem_key), and nothing pruned by
-- age), yet every durable hold paid a B-tree insert into it. Expired keys are now pruned by
-- Activate, a bounded number per activation, through the primary key too
-- (persistence.IdempotencyPruneLimit; docs/PERFORMANCE.md, round 10). Shared by SQLite,
-- PostgreSQL and CockroachDB.
DROP INDEX IF EXISTS idempotency_keys_by_age;
