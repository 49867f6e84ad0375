-- Allot schema, version 1. Shared by the SQLite, PostgreSQL and CockroachDB stores: only
-- types and statements all three accept (see docs/STORAGE.md). Times are Unix milliseconds in
-- BIGINT so that every engine compares them the same way.

CREATE TABLE IF NOT EXISTS resources (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    price_amount   BIGINT,
    price_currency TEXT,
    hold_ttl_ms    BIGINT NOT NULL,
    epoch          BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);

-- held and confirmed are after-images written by the owning activation. The CHECK is a second
-- line of defence: even a buggy writer cannot store an oversold bucket.
CREATE TABLE IF NOT EXISTS buckets (
    resource_id TEXT NOT NULL,
    bucket_key  TEXT NOT NULL,
    capacity    BIGINT NOT NULL,
    held        BIGINT NOT NULL,
    confirmed   BIGINT NOT NULL,
    PRIMARY KEY (resource_id, bucket_key),
    CHECK (held >= 0 AND confirmed >= 0 AND held + confirmed <= capacity)
);

CREATE TABLE IF NOT EXISTS holds (
    id              TEXT PRIMARY KEY,
    resource_id     TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    buckets         TEXT NOT NULL, -- JSON array of bucket keys
    idempotency_key TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS holds_by_resource ON holds (resource_id, status, created_at_ms);
CREATE INDEX IF NOT EXISTS holds_by_user ON holds (user_id, status, created_at_ms);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    resource_id   TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    hold_id       TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (resource_id, idem_key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at_ms);
