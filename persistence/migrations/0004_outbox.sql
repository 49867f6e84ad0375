-- Allot schema, version 4: the transactional outbox and the consumers' inbox (docs/EVENTS.md).
-- outbox rows are written by Commit in the same transaction as the booking rows they describe,
-- so an acknowledged change always has its events and a failed or fenced batch has none. The
-- relay claims unpublished rows (claimed_until_ms: a claim lease, so nodes do not publish the
-- same rows at once), publishes them to NATS JetStream and sets published_at_ms; published rows
-- are pruned after the event retention. The primary key is the log order (occurred time, then
-- resource, version and index within the commit); an event's id, "<resource id>/<version>/<idx>",
-- is derived from it. The table has one secondary index (the unpublished rows, for claims): the
-- outbox is written on the hot path, and every index is one more B-tree insert per event.
-- data is the event's JSON after-image (actors/events).

CREATE TABLE IF NOT EXISTS outbox (
    occurred_at_ms   BIGINT NOT NULL,
    resource_id      TEXT NOT NULL,
    version          BIGINT NOT NULL,
    idx              BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    data             TEXT NOT NULL,
    published_at_ms  BIGINT NOT NULL,
    claimed_until_ms BIGINT NOT NULL,
    PRIMARY KEY (occurred_at_ms, resource_id, version, idx)
);

CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (published_at_ms, occurred_at_ms);

-- event_inbox makes a durable consumer idempotent: (consumer, event id) once handled.
CREATE TABLE IF NOT EXISTS event_inbox (
    consumer        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    processed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX IF NOT EXISTS event_inbox_by_age ON event_inbox (processed_at_ms);
