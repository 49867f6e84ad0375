-- Allot schema: a webhook delivery's due state by endpoint. The dispatcher's claim skips the
-- endpoints whose lanes are full; with only the due index (status, next_attempt_at_ms) the
-- question "is anything due for another endpoint?" walked every due delivery of the skipped
-- endpoints, the whole backlog of a busy receiver, on every poll while it drained. With this
-- index it is one seek per endpoint (api/webhooks SQLStore.ClaimDue). Shared by SQLite,
-- PostgreSQL and CockroachDB.
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_by_endpoint ON webhook_deliveries (endpoint_id, status, next_attempt_at_ms);
