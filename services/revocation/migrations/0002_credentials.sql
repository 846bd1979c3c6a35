-- The revocation service's read model (a projection of ledger events: it can
-- be dropped and rebuilt from the ledger), the published status list
-- credentials, and idempotency records of accepted requests.

-- One row per issued credential, with what status lists and cascades need.
CREATE TABLE revocation.credentials (
    credential_id      text        PRIMARY KEY,
    issuer_id          text        NOT NULL,
    achievement_id     text        NOT NULL,
    key_id             text        NOT NULL,
    learner_hash       text        NOT NULL,
    issued_at          timestamptz NOT NULL,
    pathway_id         text,
    components         text[]      NOT NULL DEFAULT '{}',
    status             text        NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'revoked', 'suspended', 'flagged')),
    -- The credential stream's version that `status` reflects. The command
    -- that appends a status event writes it through at once; the projection
    -- then skips that event instead of applying it twice.
    status_version     integer     NOT NULL DEFAULT 1,
    revocation_list_id text,
    revocation_index   integer,
    suspension_list_id text,
    suspension_index   integer
);

-- Key compromise: one issuer's credentials signed with one key from T on.
CREATE INDEX credentials_key_idx ON revocation.credentials (issuer_id, key_id, issued_at);
-- Accreditation withdrawal: one issuer's credentials issued after a date.
CREATE INDEX credentials_issued_idx ON revocation.credentials (issuer_id, issued_at);
-- Stacked awards containing a component.
CREATE INDEX credentials_components_idx ON revocation.credentials USING gin (components);
-- A list's set bits: only the (few) revoked or suspended rows are indexed.
CREATE INDEX credentials_revoked_idx ON revocation.credentials (revocation_list_id)
    WHERE status = 'revoked';
CREATE INDEX credentials_suspended_idx ON revocation.credentials (suspension_list_id)
    WHERE status = 'suspended';

-- Status lists due for regeneration: one row per change (a status change
-- of one of the list's credentials, a new list, a compromised signing key).
-- Insert-only for everyone but the publisher, which deletes the rows it has
-- covered; so marking a list never waits on a lock, whoever holds the
-- ledger's append lock. registry_position: after a key compromise, the
-- ledger position the signer's registry view must have reached, so that it
-- never signs with that key again.
CREATE TABLE revocation.list_changes (
    change_id         bigserial PRIMARY KEY,
    list_id           text      NOT NULL,
    registry_position bigint    NOT NULL DEFAULT 0
);

CREATE INDEX list_changes_list_idx ON revocation.list_changes (list_id, change_id);

-- The signed BitstringStatusListCredential of each list, exactly the bytes
-- served, so every replica serves the same document and ETag. Written only
-- by the publisher. No foreign key to status_lists: a credential naming an
-- unknown list must not stop the projection; such a list is never published.
CREATE TABLE revocation.list_publications (
    list_id          text        PRIMARY KEY,
    published_change bigint      NOT NULL,
    key_id           text        NOT NULL,
    document         bytea       NOT NULL,
    etag             text        NOT NULL,
    published_at     timestamptz NOT NULL DEFAULT now()
);

-- The response of every request accepted with an Idempotency-Key, per
-- client, so a retry replays it instead of acting twice.
CREATE TABLE revocation.idempotency_keys (
    client_id       text        NOT NULL,
    idempotency_key text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    status          integer,
    response        bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, idempotency_key)
);

CREATE INDEX idempotency_keys_created_idx ON revocation.idempotency_keys (created_at);

GRANT SELECT, INSERT, UPDATE ON revocation.credentials, revocation.list_publications TO credledger_app;
GRANT SELECT, INSERT, DELETE ON revocation.list_changes TO credledger_app;
GRANT USAGE ON SEQUENCE revocation.list_changes_change_id_seq TO credledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON revocation.idempotency_keys TO credledger_app;
