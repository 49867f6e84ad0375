-- Allot schema, version 6: the notification service (api/notify). Shared by SQLite,
-- PostgreSQL and CockroachDB. Times are Unix milliseconds in BIGINT, as elsewhere.

-- What the service knows of each hold: the after-image of the last event it applied
-- (version is that event's resource version, the invitation's SEQUENCE), and whether an
-- invitation went out. Timers check it at send time; the calendar feeds read it.
CREATE TABLE IF NOT EXISTS notify_holds (
    hold_id       TEXT PRIMARY KEY,
    resource_id   TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    status        TEXT NOT NULL,
    buckets       TEXT NOT NULL,
    quantity      BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    invited       BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS notify_holds_by_user ON notify_holds (user_id, status);
CREATE INDEX IF NOT EXISTS notify_holds_by_resource ON notify_holds (resource_id, status);

-- The outbox: one row per (event, channel), recorded before the event is acknowledged; the
-- UNIQUE makes redelivery, restarts and two nodes record it once. status is pending, sent,
-- skipped or failed; a pending row is due at next_attempt_at_ms, which a claim pushes forward
-- (a lease: a node that died mid-send hands the row on). attempts fences the claim.
CREATE TABLE IF NOT EXISTS notify_outbox (
    id                 TEXT PRIMARY KEY,
    event_id           TEXT NOT NULL,
    channel            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    hold_id            TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    updated_at_ms      BIGINT NOT NULL,
    UNIQUE (event_id, channel)
);

CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox (status, next_attempt_at_ms);
CREATE INDEX IF NOT EXISTS notify_outbox_by_status ON notify_outbox (status, created_at_ms);

-- Durable timers, one per (kind, hold): id is kind:hold_id. A pending timer is due at
-- due_at_ms; a claim leases it by moving lease_until_ms; firing enqueues its notifications
-- and marks it fired in one transaction. Events that make a timer moot delete it.
CREATE TABLE IF NOT EXISTS notify_timers (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    hold_id        TEXT NOT NULL,
    due_at_ms      BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    status         TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS notify_timers_due ON notify_timers (status, due_at_ms);

-- Push devices. A token belongs to one user at a time (the last to register it).
CREATE TABLE IF NOT EXISTS notify_devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    token         TEXT NOT NULL UNIQUE,
    platform      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS notify_devices_by_user ON notify_devices (user_id);

-- Preferences: a JSON document per user (channels per kind, locale, time zone).
CREATE TABLE IF NOT EXISTS notify_preferences (
    user_id       TEXT PRIMARY KEY,
    body          TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Calendar feed tokens: the SHA-256 of the user's current token (the token itself is shown
-- once); rotating replaces the row, revoking the old URL.
CREATE TABLE IF NOT EXISTS notify_calendar_tokens (
    user_id       TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);
