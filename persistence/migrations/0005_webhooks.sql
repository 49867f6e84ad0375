-- Allot schema, version 5: webhook endpoints and their deliveries (api/webhooks). Shared by
-- SQLite, PostgreSQL and CockroachDB. Times are Unix milliseconds in BIGINT, as elsewhere.

-- secret is the endpoint's signing secret as api/webhooks stores it: sealed with AES-GCM
-- ("sealed1:...") when the node has a secret key, else the "whsec_..." secret itself.
-- event_types is a JSON array of event type names. failing_since_ms is when the current run of
-- failed attempts began (0: the last attempt succeeded); the dispatcher disables the endpoint
-- when that run lasts too long, or at once on 410 Gone.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id               TEXT PRIMARY KEY,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL,
    event_types      TEXT NOT NULL,
    secret           TEXT NOT NULL,
    disabled         BIGINT NOT NULL,
    disabled_reason  TEXT NOT NULL,
    failing_since_ms BIGINT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL
);

-- One delivery per (endpoint, event): the UNIQUE makes recording an event's deliveries
-- idempotent under the bus's at-least-once redelivery. status is pending, succeeded or failed;
-- a pending delivery is due at next_attempt_at_ms, which a claim also pushes forward (a lease,
-- so that a node that died mid-attempt hands the delivery on). attempts fences the claim: an
-- attempt is recorded only if no one else recorded one since.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id                 TEXT PRIMARY KEY,
    endpoint_id        TEXT NOT NULL,
    event_id           TEXT NOT NULL,
    event_type         TEXT NOT NULL,
    payload            TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_status_code   BIGINT NOT NULL,
    last_error         TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);

CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at_ms);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at_ms);

CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id   TEXT NOT NULL,
    n             BIGINT NOT NULL,
    at_ms         BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   BIGINT NOT NULL,
    error         TEXT NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
