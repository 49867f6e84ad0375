-- Allot schema: the webhook deliveries' two due indexes keep pending deliveries only. Both
-- answer one question, "which pending deliveries are due" (api/webhooks SQLStore.ClaimDue:
-- the claim in due order, and the per-endpoint check of migration 0014), yet they held every
-- delivery ever made, so recording an attempt that succeeded moved the row in both (an
-- index delete and an insert each), and the indexes grew with the deliveries kept.
-- Partial, as outbox_unpublished_by_resource (0017): a record that ends a delivery
-- (succeeded, failed) only deletes its two entries, and the indexes stay as small as the
-- pending backlog (docs/PERFORMANCE.md, round 20). ClaimDue's statements keep
-- `status = 'pending'` literally, which lets every engine use them. Shared by SQLite,
-- PostgreSQL and CockroachDB.
DROP INDEX IF EXISTS webhook_deliveries_due;
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_due ON webhook_deliveries (next_attempt_at_ms)
    WHERE status = 'pending';
DROP INDEX IF EXISTS webhook_deliveries_pending_by_endpoint;
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_due_by_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at_ms)
    WHERE status = 'pending';
