-- Allot schema: a resource's own cancellation policy (issue 13, booking.Resource.Refunds),
-- stored with the other rules of migration 0003. A JSON array of tiers, longest notice first,
-- [{"before_ms":172800000,"percent":100},{"before_ms":86400000,"percent":50}], or '' when the
-- resource has none and the node's default policy applies (every row from before this step).
-- ADD COLUMN IF NOT EXISTS for CockroachDB's sake (see 0002_leases.sql).
ALTER TABLE resources ADD COLUMN IF NOT EXISTS refund_policy TEXT NOT NULL DEFAULT '';
