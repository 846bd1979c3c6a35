-- The ledger: an append-only, hash-chained log of every state change.
-- It is the source of truth and the audit log; everything else is a projection.

CREATE SCHEMA IF NOT EXISTS ledger;

CREATE TABLE ledger.events (
    -- Gap-free and strictly increasing. Appenders hold an EXCLUSIVE lock on
    -- this table from reading the head until commit, so commit order equals
    -- position order and a reader tailing by position never skips an event
    -- that commits later (see shared/ledger/eventstore/store.py).
    position    bigint      PRIMARY KEY CHECK (position > 0),
    stream_id   text        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    event_type  text        NOT NULL,
    -- Canonical JSON (RFC 8785) bytes, exactly as hashed. bytea, not jsonb:
    -- jsonb would reorder keys and reformat numbers, breaking the hash.
    payload     bytea       NOT NULL,
    metadata    bytea       NOT NULL,
    prev_hash   bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    -- The optimistic-concurrency check: two writers that both expected the
    -- same stream version cannot both succeed.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);

CREATE FUNCTION ledger.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger.events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger.events
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON ledger.events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.forbid_change();

-- How far the relay has published the ledger to Kafka. One row per relay
-- name; exactly one relay process holds the advisory lock at a time.
CREATE TABLE ledger.relay_progress (
    relay      text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The last position each durable projection applied, written in the same
-- transaction as the projection's own rows: that is what makes re-delivery
-- harmless.
CREATE TABLE ledger.projection_progress (
    projection text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Signed Merkle tree heads over the log (RFC 9162, C2SP tlog-checkpoint).
CREATE TABLE ledger.checkpoints (
    tree_size   bigint      PRIMARY KEY CHECK (tree_size > 0),
    root_hash   bytea       NOT NULL CHECK (length(root_hash) = 32),
    signed_note text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every key that ever signed checkpoints (C2SP vkey format), so verifiers can
-- check old checkpoints after a rotation.
CREATE TABLE ledger.log_keys (
    vkey       text        PRIMARY KEY,
    first_used timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger.checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();

-- The role services run as in production. It may read and append, never
-- rewrite: privileges say so, and the triggers above hold even for owners.
DO $$
BEGIN
    CREATE ROLE credledger_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide; another database already created it
END;
$$;

REVOKE ALL ON ledger.events, ledger.checkpoints, ledger.log_keys FROM PUBLIC;
GRANT USAGE ON SCHEMA ledger TO credledger_app;
GRANT SELECT, INSERT ON ledger.events, ledger.checkpoints, ledger.log_keys TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON ledger.relay_progress, ledger.projection_progress TO credledger_app;
