-- Server-side sessions and emailed sign-in links for the web pages
-- (shared/web/), one set of tables for every service that serves pages,
-- each row tagged with its realm ('wallet', 'employer'): a session or a
-- link of one realm never opens another's. Secrets are stored only as
-- SHA-256 hashes; the subject (an email address) only sealed with a key
-- derived from the master key.

CREATE SCHEMA IF NOT EXISTS web;

CREATE TABLE web.sessions (
    realm          text        NOT NULL,
    id_hash        bytea       PRIMARY KEY,
    -- NULL until the visitor signs in: the sign-in form needs a CSRF token.
    sealed_subject bytea,
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON web.sessions (expires_at);

CREATE TABLE web.sign_in_links (
    realm          text        NOT NULL,
    token_hash     bytea       PRIMARY KEY,
    sealed_subject bytea       NOT NULL,
    -- Where to go once signed in (a path inside the realm), e.g. a claim.
    next_path      text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);
CREATE INDEX sign_in_links_expiry_idx ON web.sign_in_links (expires_at);

-- One row per sign-in request, for the per-address and per-client limits;
-- buckets are keyed hashes (no address or client address in clear).
CREATE TABLE web.sign_in_attempts (
    realm        text        NOT NULL,
    bucket       bytea       NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_attempts_bucket_idx ON web.sign_in_attempts (realm, bucket, attempted_at);

GRANT USAGE ON SCHEMA web TO credledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON web.sessions, web.sign_in_links, web.sign_in_attempts TO credledger_app;
