-- External identities (a company directory, single sign-on) are linked to the account they
-- made by (issuer, subject), never by username: an identity never takes over an account it
-- did not create, a local admin's least of all. One account has at most one such link.
CREATE TABLE external_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (issuer, subject)
);
