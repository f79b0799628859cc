-- Times are stored in one fixed width, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 characters), so
-- that SQLite, which compares them as text, orders them as times: sqlx's encoding trimmed
-- trailing zeros (`…11.5Z`, `…11Z`), and `…11.5Z` sorted after `…11.50001Z`. Every value
-- this binary wrote is UTC ending in `Z`: the seconds are kept, the fraction is padded
-- to six digits.
UPDATE users
SET created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN substr(created_at, 21, length(created_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE created_at LIKE '%Z' AND length(created_at) <> 27;
UPDATE api_tokens
SET created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN substr(created_at, 21, length(created_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE created_at LIKE '%Z' AND length(created_at) <> 27;
UPDATE sessions
SET expires_at = substr(expires_at, 1, 19) || '.' || substr(
        CASE WHEN substr(expires_at, 20, 1) = '.' THEN substr(expires_at, 21, length(expires_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE expires_at LIKE '%Z' AND length(expires_at) <> 27;
UPDATE chats
SET created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN substr(created_at, 21, length(created_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE created_at LIKE '%Z' AND length(created_at) <> 27;
UPDATE memberships
SET joined_at = substr(joined_at, 1, 19) || '.' || substr(
        CASE WHEN substr(joined_at, 20, 1) = '.' THEN substr(joined_at, 21, length(joined_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE joined_at LIKE '%Z' AND length(joined_at) <> 27;
UPDATE messages
SET created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN substr(created_at, 21, length(created_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE created_at LIKE '%Z' AND length(created_at) <> 27;
UPDATE external_identities
SET created_at = substr(created_at, 1, 19) || '.' || substr(
        CASE WHEN substr(created_at, 20, 1) = '.' THEN substr(created_at, 21, length(created_at) - 21) ELSE '' END
        || '000000', 1, 6) || 'Z'
WHERE created_at LIKE '%Z' AND length(created_at) <> 27;
