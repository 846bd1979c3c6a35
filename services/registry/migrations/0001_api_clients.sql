-- API clients and their keys: the registry owns these tables; every service's
-- authentication reads them (shared/auth.py). Secrets are never stored, only
-- SHA-256 hashes of the full key.

CREATE SCHEMA IF NOT EXISTS registry;

CREATE TABLE registry.api_clients (
    client_id        text        PRIMARY KEY,
    tenant_id        text        NOT NULL,
    role             text        NOT NULL
                     CHECK (role IN ('agency_admin', 'issuer', 'employer', 'auditor')),
    name             text        NOT NULL,
    rate_limit_class text        NOT NULL DEFAULT 'standard',
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz
);

CREATE TABLE registry.api_keys (
    key_hash   bytea       PRIMARY KEY CHECK (length(key_hash) = 32),
    key_id     text        NOT NULL UNIQUE,
    client_id  text        NOT NULL REFERENCES registry.api_clients (client_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE INDEX api_keys_client_idx ON registry.api_keys (client_id);

GRANT USAGE ON SCHEMA registry TO credledger_app;
GRANT SELECT ON registry.api_clients, registry.api_keys TO credledger_app;
