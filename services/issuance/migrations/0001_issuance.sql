-- The issuance service's tables. `credentials` is written in the same
-- transaction as each CredentialIssued event (so a unique issuer reference
-- is claimed atomically with the append) and kept current by the service's
-- lifecycle projection (revocation and suspension). The signed documents
-- themselves live only in the ledger, in the events' payloads.

CREATE SCHEMA IF NOT EXISTS issuance;

CREATE TABLE issuance.credentials (
    credential_id     text        PRIMARY KEY,
    issuer_id         text        NOT NULL,
    -- The issuer's own id for the record (its student system's key); NULL
    -- for awards issued by stacking. Unique per issuer: a retry carrying the
    -- same reference finds the credential instead of issuing a second one.
    issuer_reference  text,
    achievement_id    text        NOT NULL,
    learner_hash      text        NOT NULL,
    identity_type     text        NOT NULL,
    identity_salt     text        NOT NULL,
    holder_token_hash text        NOT NULL,
    key_id            text        NOT NULL,
    signing           text        NOT NULL CHECK (signing IN ('hosted', 'issuer_signed')),
    pathway_id        text,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz,
    status            text        NOT NULL DEFAULT 'active'
                      CHECK (status IN ('active', 'suspended', 'revoked')),
    issued_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credentials_issuer_reference_key UNIQUE (issuer_id, issuer_reference)
);

-- Stacking and the learner's pathway view read all of one learner's credentials.
CREATE INDEX credentials_learner_idx ON issuance.credentials (learner_hash);

-- One award per pathway and learner: the stack id is derived from both, so
-- a manual claim racing an automatic one (or a re-delivered event) cannot
-- award twice.
CREATE TABLE issuance.stacks (
    stack_id            text        PRIMARY KEY,
    pathway_id          text        NOT NULL,
    learner_hash        text        NOT NULL,
    award_credential_id text        NOT NULL,
    component_ids       text[]      NOT NULL,
    automatic           boolean     NOT NULL,
    claimed_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX stacks_learner_idx ON issuance.stacks (learner_hash);

-- Requests accepted with an Idempotency-Key, per client: the fingerprint of
-- the request and the response it got (holder tokens left out: they are
-- derived again on replay, so no usable token is ever stored).
CREATE TABLE issuance.idempotency_keys (
    client_id       text        NOT NULL,
    idempotency_key text        NOT NULL,
    fingerprint     bytea       NOT NULL,
    -- The per-item outcomes, from which the handler renders the response.
    response        bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, idempotency_key)
);

CREATE INDEX idempotency_keys_created_idx ON issuance.idempotency_keys (created_at);

GRANT USAGE ON SCHEMA issuance TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON issuance.credentials, issuance.stacks TO credledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON issuance.idempotency_keys TO credledger_app;
