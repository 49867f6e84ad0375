-- Allot schema, version 10: the audit log of operator and admin actions (api/audit). Shared
-- by SQLite, PostgreSQL and CockroachDB; CREATE ... IF NOT EXISTS because each statement may
-- run twice, on two nodes (see 0002_leases.sql). Times are Unix milliseconds in BIGINT, as
-- elsewhere.

-- One row per audited request, appended after it was answered and never changed by anything
-- but the retention job (--audit-retention), which deletes rows older than it. Nothing
-- personal but the subject (the token's user id) and client_ip (the operator's or admin's
-- address as the edge resolved it under --trusted-proxies; '' when unknown): no body, no
-- query. target is
-- the ids the route named ("rid=hotel-1"); outcome is succeeded (2xx, 3xx), refused (4xx) or
-- failed (5xx); status the HTTP status. Listing is newest first by (at_ms, id).
CREATE TABLE IF NOT EXISTS audit_log (
    id         TEXT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    subject    TEXT NOT NULL,
    action     TEXT NOT NULL,
    method     TEXT NOT NULL,
    route      TEXT NOT NULL,
    target     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status     BIGINT NOT NULL,
    outcome    TEXT NOT NULL,
    client_ip  TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_ms, id);

CREATE INDEX IF NOT EXISTS audit_log_subject_at ON audit_log (subject, at_ms, id);
