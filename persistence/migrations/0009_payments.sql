-- Allot schema, version 9: payments (issue 13, actors/payment). A hold's payment saga is
-- stored with the hold, in the same row and the same commit as the hold's status, so the
-- booking and its payment never disagree in the store. payment is the saga's JSON (no card
-- data, no client secret; '' for a hold without payment); payment_open marks a saga that still
-- needs work, which the reconciler lists on start and every few seconds. Shared by SQLite,
-- PostgreSQL and CockroachDB; IF NOT EXISTS because a statement may run twice (0002).
ALTER TABLE holds ADD COLUMN IF NOT EXISTS payment TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN IF NOT EXISTS payment_open BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS holds_payment_open ON holds (updated_at_ms) WHERE payment_open;
