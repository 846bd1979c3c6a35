-- Private keys of issuers that use hosted signing. Sealed with the platform
-- master key (AES-256-GCM, see shared/key_vault.py); never returned by any
-- API, never logged. Written in the same transaction as the IssuerKeyAdded
-- event that publishes the public half.

CREATE TABLE registry.hosted_keys (
    issuer_id   text        NOT NULL,
    key_id      text        NOT NULL,
    sealed_seed bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer_id, key_id)
);

GRANT SELECT, INSERT ON registry.hosted_keys TO credledger_app;
GRANT INSERT, UPDATE ON registry.api_clients, registry.api_keys TO credledger_app;
