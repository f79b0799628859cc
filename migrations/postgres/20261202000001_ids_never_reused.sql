-- Ids of deleted chats and messages are never handed out again. PostgreSQL's identity
-- columns never reuse a value, so nothing changes here; the migration exists so that both
-- backends keep the same versions and names (SQLite rebuilds its tables with AUTOINCREMENT).
SELECT 1;
