-- no-transaction
-- Ids of deleted chats and messages are never handed out again: `INTEGER PRIMARY KEY`
-- reuses the id of the newest row once it is deleted; `AUTOINCREMENT` does not (PostgreSQL's
-- identity columns never did). SQLite cannot add AUTOINCREMENT to a column, so both tables
-- are rebuilt (SQLite's documented procedure: foreign keys off, one transaction, copy,
-- drop, rename, check, foreign keys on). Ids keep their values.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE chats_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO chats_new (id, name, created_at, last_seq)
    SELECT id, name, created_at, last_seq FROM chats;
DROP TABLE chats;
ALTER TABLE chats_new RENAME TO chats;

CREATE TABLE messages_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    content    TEXT    NOT NULL,
    client_id  TEXT,
    created_at TEXT    NOT NULL,
    UNIQUE (chat_id, seq)
);
INSERT INTO messages_new (id, chat_id, seq, user_id, content, client_id, created_at)
    SELECT id, chat_id, seq, user_id, content, client_id, created_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_client_id ON messages (chat_id, user_id, client_id)
    WHERE client_id IS NOT NULL;

COMMIT;
PRAGMA foreign_keys = ON;
