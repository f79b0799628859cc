-- One counter that every change able to make a cached answer wrong bumps in its own
-- transaction: a revoked token or session, an account changed (profile, password, flags)
-- or deleted, a membership added or removed, a chat renamed or deleted. Caches
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

CREATE FUNCTION cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER cache_epoch_token_deleted AFTER DELETE ON api_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

CREATE CONSTRAINT TRIGGER cache_epoch_session_deleted AFTER DELETE ON sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();

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
-- by hand counts too (a chat's deletion already counts once, above).
CREATE CONSTRAINT TRIGGER cache_epoch_message_changed AFTER UPDATE ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cache_epoch_bump();
