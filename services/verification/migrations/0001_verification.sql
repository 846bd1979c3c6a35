-- The verification service's own state: read-model snapshots (so a restart
-- does not replay the whole ledger) and bulk verification jobs. Nothing
-- here is a source of truth about credentials: snapshots can be dropped and
-- rebuilt from the ledger at any time.

CREATE SCHEMA IF NOT EXISTS verification;

-- A snapshot is written in one transaction, so a row here is always complete.
CREATE TABLE verification.snapshots (
    snapshot_id bigserial   PRIMARY KEY,
    position    bigint      NOT NULL,
    format      integer     NOT NULL,
    credentials integer     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE verification.snapshot_chunks (
    snapshot_id bigint  NOT NULL REFERENCES verification.snapshots ON DELETE CASCADE,
    chunk_no    integer NOT NULL,
    data        bytea   NOT NULL,
    PRIMARY KEY (snapshot_id, chunk_no)
);
-- msgpack of hashes and ids barely compresses; skip pglz's attempt.
ALTER TABLE verification.snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE verification.jobs (
    job_id          uuid        PRIMARY KEY,
    owner_client_id text        NOT NULL,
    owner_tenant_id text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    input_format    text        NOT NULL CHECK (input_format IN ('ndjson', 'csv')),
    -- CSV only: what each column holds (from the header row, or the default).
    csv_columns     text[]      NOT NULL DEFAULT '{}',
    total           integer     NOT NULL,
    done            integer     NOT NULL DEFAULT 0,
    chunks          integer     NOT NULL,
    -- The first input chunk without results: where a resumed job continues.
    next_chunk      integer     NOT NULL DEFAULT 0,
    counts          jsonb       NOT NULL DEFAULT '{}',
    -- The replica working on the job, until when; an expired lease is free.
    lease_owner     text,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (done <= total AND next_chunk <= chunks)
);

CREATE INDEX jobs_unfinished_idx ON verification.jobs (created_at) WHERE status <> 'completed';

-- The uploaded lines, in chunks (zlib-compressed, one line per item).
CREATE TABLE verification.job_inputs (
    job_id   uuid    NOT NULL REFERENCES verification.jobs ON DELETE CASCADE,
    chunk_no integer NOT NULL,
    lines    integer NOT NULL,
    data     bytea   NOT NULL,
    PRIMARY KEY (job_id, chunk_no)
);

-- One row per processed input chunk: its answers as zlib-compressed NDJSON.
CREATE TABLE verification.job_results (
    job_id   uuid    NOT NULL REFERENCES verification.jobs ON DELETE CASCADE,
    chunk_no integer NOT NULL,
    data     bytea   NOT NULL,
    PRIMARY KEY (job_id, chunk_no)
);
ALTER TABLE verification.job_inputs ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE verification.job_results ALTER COLUMN data SET STORAGE EXTERNAL;

GRANT USAGE ON SCHEMA verification TO credledger_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA verification TO credledger_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA verification TO credledger_app;
