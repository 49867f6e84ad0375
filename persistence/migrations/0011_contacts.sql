-- Allot schema, version 11: a guest's contact on a hold (docs/SECURITY.md, Personal data).
-- Accepted as it is by PostgreSQL and CockroachDB (BYTEA is CockroachDB's BYTES); SQLite runs
-- it without IF NOT EXISTS (see sqlite's sqliteDialect) and stores the bytes as a BLOB.
--
-- contact is the contact (name, e-mail, phone) sealed by the edge with AES-256-GCM under the
-- node's data key ring (persistence/pii: version, key id, nonce, ciphertext and tag), bound to
-- the hold's resource and user; NULL when the hold carries none. Never a contact field in clear,
-- in a column, an index or a log. It is written when the hold is inserted and never by a later
-- after-image of the hold, only by `allot rekey`, which re-seals it under the newest key.
ALTER TABLE holds ADD COLUMN IF NOT EXISTS contact BYTEA;
