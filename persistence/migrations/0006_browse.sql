-- Allot schema, version 4: browsing (issue 16). Every statement is accepted as it is by
-- SQLite, PostgreSQL and CockroachDB (see 0003_rules.sql for IF NOT EXISTS).
--
-- A resource's tags, a JSON array of distinct tags (booking.ValidTag: lowercase letters,
-- digits and '-', so a search matches '"tag"' inside it exactly), sorted; its location ('' for
-- none); and when it was archived (0 while it is active). Rows from before this step have no
-- tags or location and are active.
ALTER TABLE resources ADD COLUMN IF NOT EXISTS tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE resources ADD COLUMN IF NOT EXISTS location TEXT NOT NULL DEFAULT '';
ALTER TABLE resources ADD COLUMN IF NOT EXISTS archived_at_ms BIGINT NOT NULL DEFAULT 0;
