-- Allot schema, version 2: activation leases. A resource actor answers reads from memory only
-- while it holds a lease, and a new activation waits until the previous one's lease has ended.
-- lease_until_ms is the end of the current activation's lease, in Unix milliseconds by the
-- wall clock of the node that renewed it; 0 means none. One statement, accepted as it is by
-- SQLite, PostgreSQL and CockroachDB (SQLite needs the non-null DEFAULT to add a NOT NULL
-- column; existing rows get 0: no lease). IF NOT EXISTS because CockroachDB 25.1+ commits the
-- open transaction before DDL (autocommit_before_ddl), so the migration lock does not cover the
-- statement and two nodes may both run it; SQLite, whose steps are serialized by its write
-- lock, does not accept IF NOT EXISTS here and its runner drops it (persistence/sqlite).

ALTER TABLE resources ADD COLUMN IF NOT EXISTS lease_until_ms BIGINT NOT NULL DEFAULT 0;
