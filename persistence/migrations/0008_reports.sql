-- Allot schema, version 7: report rollups (api/reports), a consumer of the event stream that
-- is never on the booking hot path. Shared by SQLite, PostgreSQL and CockroachDB; CREATE ... IF
-- NOT EXISTS because each statement may run twice, on two nodes (see 0002_leases.sql). Times
-- are Unix milliseconds in BIGINT and days are 'YYYY-MM-DD' text, as elsewhere.

-- What the rollups know of a resource, and the last event applied to it: events of one
-- resource arrive in (version, idx) order, at least once, so an event at or below the
-- watermark is a redelivery and changes nothing. Applying an event and moving the watermark
-- happen in one transaction.
CREATE TABLE IF NOT EXISTS report_resources (
    resource_id    TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    timezone       TEXT NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    last_version   BIGINT NOT NULL,
    last_idx       BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);

-- One row per resource x bucket x UTC day x the resource's local day x currency, holding the
-- counters of the events that occurred then. A hold counts under its first bucket. day_local
-- is the day in the resource's time zone; an event has one of each, so grouping by either
-- column sums the same events. currency is '' for a resource without a price.
CREATE TABLE IF NOT EXISTS report_rollups (
    resource_id     TEXT NOT NULL,
    bucket          TEXT NOT NULL,
    day_utc         TEXT NOT NULL,
    day_local       TEXT NOT NULL,
    currency        TEXT NOT NULL,
    placed          BIGINT NOT NULL,
    confirmed       BIGINT NOT NULL,
    cancelled       BIGINT NOT NULL,
    expired         BIGINT NOT NULL,
    refunded        BIGINT NOT NULL,
    units_placed    BIGINT NOT NULL,
    units_confirmed BIGINT NOT NULL,
    gross           BIGINT NOT NULL,
    refunded_amount BIGINT NOT NULL,
    PRIMARY KEY (resource_id, bucket, day_utc, day_local, currency)
);

CREATE INDEX IF NOT EXISTS report_rollups_by_day ON report_rollups (day_utc);

-- Holds placed per resource, UTC day and hour of day (UTC and local): the peak hours.
CREATE TABLE IF NOT EXISTS report_hours (
    resource_id TEXT NOT NULL,
    day_utc     TEXT NOT NULL,
    day_local   TEXT NOT NULL,
    hour_utc    BIGINT NOT NULL,
    hour_local  BIGINT NOT NULL,
    placed      BIGINT NOT NULL,
    PRIMARY KEY (resource_id, day_utc, day_local, hour_utc, hour_local)
);

-- Confirmations per resource, UTC day and lead time class (confirmation to the first bucket's
-- start): the lead time distribution.
CREATE TABLE IF NOT EXISTS report_lead_times (
    resource_id TEXT NOT NULL,
    day_utc     TEXT NOT NULL,
    day_local   TEXT NOT NULL,
    lead_class  TEXT NOT NULL,
    confirmed   BIGINT NOT NULL,
    PRIMARY KEY (resource_id, day_utc, day_local, lead_class)
);

-- Availability views counted at the edge: one row per resource, UTC day and signed-in user
-- (a keyed hash of the user id, never the id itself), so that distinct viewers are exact.
CREATE TABLE IF NOT EXISTS report_views (
    resource_id TEXT NOT NULL,
    day_utc     TEXT NOT NULL,
    viewer      TEXT NOT NULL,
    PRIMARY KEY (resource_id, day_utc, viewer)
);
