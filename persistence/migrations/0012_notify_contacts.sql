-- Allot schema: how the notification service (api/notify) reaches each user. Shared by
-- SQLite, PostgreSQL and CockroachDB.

-- One row per user: the e-mail address and phone number from the claims of the user's
-- last token (email, phone_number), as a JSON document sealed with the node's data key
-- ring (--data-key-file; pii.Keyring, bound to the user id) and base64-encoded, or in clear
-- without a ring. Written when a user's claims change; read at send time, never logged.
CREATE TABLE IF NOT EXISTS notify_contacts (
    user_id       TEXT PRIMARY KEY,
    sealed        BIGINT NOT NULL,
    body          TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
