-- The Merkle tree's leaf hashes at one size, so a restart does not re-read
-- (and re-hash) every ledger entry. A wrong snapshot cannot go unnoticed:
-- the proofs served from it would not verify against signed checkpoints.

CREATE TABLE verification.log_tree_snapshots (
    size       bigint      PRIMARY KEY,
    leaves     bytea       NOT NULL CHECK (length(leaves) = 32 * size),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE verification.log_tree_snapshots ALTER COLUMN leaves SET STORAGE EXTERNAL;

GRANT SELECT, INSERT, DELETE ON verification.log_tree_snapshots TO credledger_app;
