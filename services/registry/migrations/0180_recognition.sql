-- Recognition agreements and framework referencing (services/registry/recognition.py),
-- written only by the registry.tables projection, like the other registry tables.

CREATE TABLE registry.recognition_agreements (
    agreement_id            text        PRIMARY KEY,
    recognising_kind        text        NOT NULL CHECK (recognising_kind IN ('issuer', 'agency')),
    recognising_id          text        NOT NULL,
    title                   text        NOT NULL,
    pathway_ids             jsonb       NOT NULL,
    match                   jsonb       NOT NULL,
    valid_from              timestamptz NOT NULL,
    valid_until             timestamptz,
    max_credential_age_days integer,
    credit_value            double precision NOT NULL,
    on_revoked              text        NOT NULL CHECK (on_revoked IN ('keep', 'flag')),
    status                  text        NOT NULL CHECK (status IN ('declared', 'revoked')),
    -- The RecognitionAgreementRevoked event's fields.
    revocation              jsonb,
    version                 integer     NOT NULL,
    created_position        bigint      NOT NULL UNIQUE,
    created_at              timestamptz NOT NULL
);
CREATE INDEX recognition_agreements_recogniser_idx ON registry.recognition_agreements (recognising_id);

-- Every published version of a framework's referencing; `version` is the
-- version of its `referencing:{framework id}` stream.
CREATE TABLE registry.framework_references (
    framework_id        text        NOT NULL,
    version             integer     NOT NULL,
    agency_id           text        NOT NULL,
    target_framework_id text        NOT NULL,
    mappings            jsonb       NOT NULL,
    report_url          text        NOT NULL,
    published_at        timestamptz NOT NULL,
    position            bigint      NOT NULL UNIQUE,
    PRIMARY KEY (framework_id, version)
);

-- Organisations (issuer profiles) registered as endorsers: they may sign
-- EndorsementCredentials (services/issuance/endorsing.py).
CREATE TABLE registry.endorsers (
    endorser_id      text        PRIMARY KEY,
    agency_id        text        NOT NULL,
    registered_at    timestamptz NOT NULL,
    created_position bigint      NOT NULL UNIQUE
);

GRANT SELECT, INSERT, UPDATE, DELETE ON registry.recognition_agreements, registry.framework_references,
    registry.endorsers TO credledger_app;
