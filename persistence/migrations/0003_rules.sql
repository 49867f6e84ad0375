-- Allot schema, version 3: booking rules (hold renewal, overbooking allowances, per-user
-- limits, time zones and slot calendars, waitlists). Every statement is accepted as it is by
-- SQLite, PostgreSQL and CockroachDB; ADD COLUMN IF NOT EXISTS and CREATE ... IF NOT EXISTS for
-- CockroachDB's sake (see 0002_leases.sql): each statement may run twice, on two nodes.
--
-- Resources: the rule settings. Rows from before this step get what the rules were then: two
-- renewals (the default, which nothing used), no allowance, no per-user limit, UTC, no slot
-- calendar, and the default offer TTL of one hour (3600000 ms).
ALTER TABLE resources ADD COLUMN IF NOT EXISTS max_extensions BIGINT NOT NULL DEFAULT 2;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS allowance_units BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS allowance_percent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS max_per_user BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN IF NOT EXISTS slot_every_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resources ADD COLUMN IF NOT EXISTS waitlist_offer_ttl_ms BIGINT NOT NULL DEFAULT 3600000;

-- Buckets: the overbooking allowance. buckets.capacity has always been what may be sold, and
-- step 1's CHECK (held + confirmed <= capacity) keeps guarding exactly that: from this step on
-- it is the bucket's physical capacity plus its allowance, and allowance says how much of it
-- is overbooking (booking.Bucket.Capacity = capacity - allowance). So the invariant
-- held + confirmed <= physical capacity + allowance is the database's CHECK without replacing
-- step 1's constraint (SQLite cannot drop one, and its name differs between PostgreSQL and
-- CockroachDB), rows with allowance 0 mean what they meant before, and audits that compare
-- held + confirmed with capacity stay right. The column CHECK keeps the physical capacity
-- non-negative.
ALTER TABLE buckets ADD COLUMN IF NOT EXISTS allowance BIGINT NOT NULL DEFAULT 0 CHECK (allowance >= 0 AND allowance <= capacity);

-- Holds: how often a hold was renewed, and the waitlist entry it was offered to ('' for none).
ALTER TABLE holds ADD COLUMN IF NOT EXISTS extensions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE holds ADD COLUMN IF NOT EXISTS waitlist_entry_id TEXT NOT NULL DEFAULT '';

-- The waiting entries of every resource. A row lives while its entry waits: an offer or a
-- leave deletes it in the batch that decides it (the offered hold names the entry). seq is the
-- first-come order within the resource; buckets is a JSON array of keys, as in holds.
CREATE TABLE IF NOT EXISTS waitlist (
    id            TEXT PRIMARY KEY,
    resource_id   TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    offer_hold_id TEXT NOT NULL,
    buckets       TEXT NOT NULL,
    quantity      BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS waitlist_by_resource ON waitlist (resource_id, seq);
CREATE INDEX IF NOT EXISTS waitlist_by_user ON waitlist (user_id, created_at_ms);
