-- The registry's read model: one table per kind of thing the registry holds,
-- written only by the registry.tables projection (services/registry/projection.py).
-- Every row can be rebuilt from the ledger: times come from the events (or
-- their metadata), never from now(), so a rebuild is byte-for-byte the same.
--
-- `version` is the version of the row's ledger stream after the last event
-- applied; writers read it and append with it as the expected version.
-- `created_position` (the ledger position that created the row) orders the
-- listings and is what their opaque cursors encode.
--
-- No foreign keys between these tables: the ledger is the source of truth
-- and the projection must apply whatever it holds, in order, without failing.

CREATE TABLE registry.agencies (
    agency_id        text        PRIMARY KEY,
    name             text        NOT NULL,
    jurisdiction     text        NOT NULL,
    parent_agency_id text,
    scope            jsonb       NOT NULL,
    version          integer     NOT NULL,
    created_position bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX agencies_parent_idx ON registry.agencies (parent_agency_id);

CREATE TABLE registry.accreditations (
    accreditation_id text        PRIMARY KEY,
    accreditor_id    text        NOT NULL,
    subject_kind     text        NOT NULL CHECK (subject_kind IN ('agency', 'issuer')),
    subject_id       text        NOT NULL,
    -- The subject's country (an issuer's) or jurisdiction (an agency's), for filters.
    country          text        NOT NULL,
    scope            jsonb       NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz,
    status           text        NOT NULL CHECK (status IN ('active', 'suspended', 'withdrawn')),
    -- The reason of the current suspension or of the withdrawal.
    status_reason    text        NOT NULL DEFAULT '',
    -- [{"from": t, "until": t | null, "reason": text}], oldest first.
    suspensions      jsonb       NOT NULL DEFAULT '[]',
    -- The AccreditationWithdrawn event's fields, including the credentials policy.
    withdrawal       jsonb,
    version          integer     NOT NULL,
    created_position bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX accreditations_subject_idx ON registry.accreditations (subject_id);
CREATE INDEX accreditations_accreditor_idx ON registry.accreditations (accreditor_id);

CREATE TABLE registry.frameworks (
    framework_id     text        PRIMARY KEY,
    agency_id        text        NOT NULL,
    name             text        NOT NULL,
    credit_system    text        NOT NULL,
    hours_per_credit double precision,
    levels           jsonb       NOT NULL,
    version          integer     NOT NULL,
    created_position bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);

CREATE TABLE registry.issuers (
    issuer_id        text        PRIMARY KEY,
    registered_by    text        NOT NULL,
    legal_name       text        NOT NULL,
    country          text        NOT NULL,
    did              text        NOT NULL,
    homepage         text        NOT NULL,
    email            text        NOT NULL,
    identifiers      jsonb       NOT NULL,
    -- Keys live on the issuer's stream, so key events move this too.
    version          integer     NOT NULL,
    created_position bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX issuers_country_idx ON registry.issuers (country);

-- Every key ever registered: rotation and compromise only set times.
CREATE TABLE registry.issuer_keys (
    issuer_id            text        NOT NULL,
    key_id               text        NOT NULL,
    public_key_multibase text        NOT NULL,
    custody              text        NOT NULL,
    valid_from           timestamptz NOT NULL,
    valid_until          timestamptz,
    compromised_at       timestamptz,
    compromise_reason    text        NOT NULL DEFAULT '',
    added_position       bigint      NOT NULL UNIQUE,
    PRIMARY KEY (issuer_id, key_id)
);
CREATE INDEX issuer_keys_public_key_idx ON registry.issuer_keys (public_key_multibase);

CREATE TABLE registry.achievements (
    achievement_id   text        PRIMARY KEY,
    issuer_id        text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'withdrawn')),
    spec             jsonb       NOT NULL,
    -- Copied out of the spec for the listing filters.
    country          text        NOT NULL,
    eqf_level        integer     NOT NULL,
    -- Who approved or rejected it, when, and the reason of a rejection or withdrawal.
    decided_by       text,
    decided_at       timestamptz,
    status_reason    text        NOT NULL DEFAULT '',
    version          integer     NOT NULL,
    created_position bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX achievements_issuer_idx ON registry.achievements (issuer_id);

CREATE TABLE registry.pathways (
    pathway_id           text        PRIMARY KEY,
    issuer_id            text        NOT NULL,
    title                text        NOT NULL,
    award_achievement_id text        NOT NULL,
    rule                 jsonb       NOT NULL,
    status               text        NOT NULL CHECK (status IN ('proposed', 'approved', 'withdrawn')),
    decided_by           text,
    decided_at           timestamptz,
    status_reason        text        NOT NULL DEFAULT '',
    version              integer     NOT NULL,
    created_position     bigint      NOT NULL UNIQUE,
    created_at           timestamptz NOT NULL
);
CREATE INDEX pathways_issuer_idx ON registry.pathways (issuer_id);

-- API clients get what the listing and the rebuild need: who created them
-- (the creating request's tenant), their stream version and creation position.
ALTER TABLE registry.api_clients
    ADD COLUMN created_by       text    NOT NULL DEFAULT '',
    ADD COLUMN version          integer NOT NULL DEFAULT 0,
    ADD COLUMN created_position bigint;
CREATE INDEX api_clients_tenant_idx ON registry.api_clients (tenant_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON
    registry.agencies, registry.accreditations, registry.frameworks, registry.issuers,
    registry.issuer_keys, registry.achievements, registry.pathways
    TO credledger_app;
GRANT DELETE ON registry.api_clients, registry.api_keys TO credledger_app;
