-- SQLite rewrites its times (kept as text) in one fixed width. PostgreSQL keeps TIMESTAMPTZ,
-- which compares as time already; the migration exists so that both backends keep the same
-- versions and names.
SELECT 1;
