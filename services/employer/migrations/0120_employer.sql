-- The employer portal's own state: the employer organisations that signed
-- in, their users, and the checks they ran (each bulk check is a job of
-- the verification service; its answers are copied here once it is done,
-- beside the candidates the employer uploaded, for the results table,
-- filters and the CSV export). Nothing here is about credentials' truth:
-- every verdict comes from the verification service.

CREATE SCHEMA IF NOT EXISTS employer;

-- One row per employer tenant of the registry. The portal acts for it with
-- the API key its first user signed in with, sealed with the master key.
CREATE TABLE employer.organisations (
    tenant_id  text        PRIMARY KEY,
    client_id  text        NOT NULL,
    sealed_key bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE employer.users (
    user_id    uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL REFERENCES employer.organisations,
    email      text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('admin', 'member')),
    invited_by uuid        REFERENCES employer.users,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);
CREATE INDEX users_email_idx ON employer.users (email);

CREATE TABLE employer.checks (
    check_id   uuid        PRIMARY KEY,
    tenant_id  text        NOT NULL REFERENCES employer.organisations,
    user_id    uuid        NOT NULL REFERENCES employer.users,
    kind       text        NOT NULL CHECK (kind IN ('single', 'bulk')),
    label      text        NOT NULL,
    -- The verification service's job (bulk checks only).
    job_id     uuid,
    status     text        NOT NULL CHECK (status IN ('queued', 'running', 'importing', 'completed', 'failed')),
    total      integer     NOT NULL DEFAULT 0,
    done       integer     NOT NULL DEFAULT 0,
    counts     jsonb       NOT NULL DEFAULT '{}',
    error      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checks_tenant_idx ON employer.checks (tenant_id, created_at DESC);
CREATE INDEX checks_unfinished_idx ON employer.checks (created_at) WHERE status IN ('queued', 'running', 'importing');

-- What the employer uploaded, one row per candidate line (row_no is the
-- verification job's item index).
CREATE TABLE employer.candidates (
    check_id   uuid    NOT NULL REFERENCES employer.checks ON DELETE CASCADE,
    row_no     integer NOT NULL,
    name       text    NOT NULL,
    email      text    NOT NULL,
    credential text    NOT NULL,
    PRIMARY KEY (check_id, row_no)
);

-- The answer to each candidate line, in words.
CREATE TABLE employer.results (
    check_id      uuid    NOT NULL REFERENCES employer.checks ON DELETE CASCADE,
    row_no        integer NOT NULL,
    verdict       text    NOT NULL CHECK (verdict IN ('valid', 'invalid', 'unknown')),
    credential_id text    NOT NULL,
    title         text    NOT NULL,
    issuer        text    NOT NULL,
    issued_on     text    NOT NULL,
    identity      text    NOT NULL CHECK (identity IN ('match', 'mismatch', 'unknown', 'not_checked')),
    reasons       text    NOT NULL,
    PRIMARY KEY (check_id, row_no)
);
CREATE INDEX results_verdict_idx ON employer.results (check_id, verdict, row_no);

GRANT USAGE ON SCHEMA employer TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON employer.organisations, employer.users, employer.checks TO credledger_app;
GRANT SELECT, INSERT, DELETE ON employer.candidates, employer.results TO credledger_app;
