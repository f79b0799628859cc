-- One counter that every change able to make a cached answer wrong bumps in its own
-- transaction: a revoked token, an account changed (profile, password, flags) or deleted, a membership added or removed, a chat renamed or deleted. Caches
-- (chatcore::store::cache) compare it before every answer, so a change made by any process
-- (another node, the CLI, an operator's SQL) acts on the next request. Posts do not bump
-- it: a chat's `last_seq` is compared instead.
CREATE TABLE cache_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);

CREATE TRIGGER cache_epoch_token_deleted AFTER DELETE ON api_tokens
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

-- Sessions are not cached: ending one (or sweeping expired ones) empties no cache.

-- Row locks (`SET is_active = is_active`) change nothing and do not count.
CREATE TRIGGER cache_epoch_user_changed AFTER UPDATE ON users
WHEN OLD.username IS NOT NEW.username OR OLD.email IS NOT NEW.email
  OR OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
  OR OLD.password_hash IS NOT NEW.password_hash OR OLD.is_admin IS NOT NEW.is_admin
  OR OLD.is_active IS NOT NEW.is_active
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_user_deleted AFTER DELETE ON users
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_member_added AFTER INSERT ON memberships
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_member_removed AFTER DELETE ON memberships
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_chat_renamed AFTER UPDATE OF name ON chats
WHEN OLD.name IS NOT NEW.name
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_chat_deleted AFTER DELETE ON chats
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

-- Messages are only ever added (by the writer, which moves `chats.last_seq`); one changed
-- or deleted by hand counts too (as does each message of a deleted chat).
CREATE TRIGGER cache_epoch_message_changed AFTER UPDATE ON messages
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;

CREATE TRIGGER cache_epoch_message_deleted AFTER DELETE ON messages
BEGIN UPDATE cache_epoch SET n = n + 1 WHERE id = 1; END;
