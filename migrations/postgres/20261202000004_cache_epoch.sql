-- One counter that every change able to make a cached answer wrong bumps in its own
-- transaction: a revoked token, an account changed (profile, password, flags) or deleted, a membership added or removed, a chat renamed or deleted. Caches
-- (chatcore::store::cache) compare it before every answer, so a change made by any process
-- (another node, the CLI, an operator's SQL) acts on the next request. Posts do not bump
-- it: a chat's `last_seq` is compared instead.
--
-- The triggers are deferred constraint triggers: they run at commit, after every other
-- statement, so a transaction takes the counter's row lock last and never waits for
-- another lock while holding it (no deadlock with the row locks taken before).
CREATE TABLE cache_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT  NOT NULL
);
INSERT INTO cache_epoch (id, n) VALUES (1, 0);

-- Bound to the schema it was made in, whatever the search_path of the session firing it.
CREATE FUNCTION cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE cache_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER cache_epoch_token_deleted AFTER DELETE ON api_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

-- Sessions are not cached: ending one (or sweeping expired ones) empties no cache.

-- Row locks (`SET is_active = is_active`) change nothing and do not count.
CREATE CONSTRAINT TRIGGER cache_epoch_user_changed AFTER UPDATE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.email IS DISTINCT FROM NEW.email
       OR OLD.first_name IS DISTINCT FROM NEW.first_name
       OR OLD.last_name IS DISTINCT FROM NEW.last_name
       OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
       OR OLD.is_admin IS DISTINCT FROM NEW.is_admin
       OR OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_user_deleted AFTER DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_member_added AFTER INSERT ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_member_removed AFTER DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_chat_renamed AFTER UPDATE OF name ON chats
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_chat_deleted AFTER DELETE ON chats
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

-- Messages are only ever added (by the writer, which moves `chats.last_seq`); one changed
-- or deleted by hand counts too. Deletion counts once per statement (a chat's thousands of
-- messages go in one), at once rather than at commit: only a chat's deletion deletes
-- messages, under the chat's row lock, which every other change of that chat takes first.
CREATE CONSTRAINT TRIGGER cache_epoch_message_changed AFTER UPDATE ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

CREATE TRIGGER cache_epoch_messages_deleted AFTER DELETE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();

-- TRUNCATE fires no row trigger.
CREATE TRIGGER cache_epoch_truncated AFTER TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_truncated AFTER TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_truncated AFTER TRUNCATE ON chats
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
CREATE TRIGGER cache_epoch_truncated AFTER TRUNCATE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION cache_epoch_bump();
