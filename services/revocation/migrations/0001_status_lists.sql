-- Bitstring Status Lists: which lists exist and how many of their entries
-- have been handed out. Entries are allocated by a counter and mapped to a
-- list position through a keyed permutation (shared/status_allocation.py),
-- so indexes are unique by construction and do not reveal issuance order.

CREATE SCHEMA IF NOT EXISTS revocation;

CREATE TABLE revocation.status_lists (
    list_id         text        PRIMARY KEY,
    issuer_id       text        NOT NULL,
    purpose         text        NOT NULL CHECK (purpose IN ('revocation', 'suspension')),
    size            integer     NOT NULL CHECK (size >= 131072),
    allocated       integer     NOT NULL DEFAULT 0,
    permutation_key bytea       NOT NULL CHECK (length(permutation_key) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (allocated <= size)
);

-- At most one list per issuer and purpose is open for allocation at a time.
CREATE INDEX status_lists_open_idx ON revocation.status_lists (issuer_id, purpose, created_at);

GRANT USAGE ON SCHEMA revocation TO credledger_app;
GRANT SELECT, INSERT, UPDATE ON revocation.status_lists TO credledger_app;
