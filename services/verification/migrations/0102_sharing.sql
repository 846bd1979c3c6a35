-- What learners decided about their credentials' public pages, projected
-- from the sharing.* ledger events (services/verification/sharing.py).
CREATE TABLE verification.share_links (
    token_hash    text        PRIMARY KEY,
    share_id      text        NOT NULL UNIQUE,
    credential_id text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX share_links_credential_idx ON verification.share_links (credential_id);

CREATE TABLE verification.private_credentials (
    credential_id text        PRIMARY KEY,
    since         timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON verification.share_links, verification.private_credentials TO credledger_app;
