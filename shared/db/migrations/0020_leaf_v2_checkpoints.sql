-- Leaf v2 (docs/ledger-format.md, "Merkle leaves"): the transparency log's
-- leaves commit to entries without carrying their payloads, so a tree head
-- signed over v1 leaves is the head of a different tree. Checkpoints are
-- derived data; the hash chain in ledger.events is unchanged. The v1 heads
-- stay, read-only, for the record, and the checkpointer signs the v2 tree
-- afresh from position 1.
ALTER TABLE ledger.checkpoints RENAME TO checkpoints_leaf_v1;
ALTER INDEX ledger.checkpoints_pkey RENAME TO checkpoints_leaf_v1_pkey;
REVOKE INSERT ON ledger.checkpoints_leaf_v1 FROM credledger_app;

CREATE TABLE ledger.checkpoints (
    tree_size   bigint      PRIMARY KEY CHECK (tree_size > 0),
    root_hash   bytea       NOT NULL CHECK (length(root_hash) = 32),
    signed_note text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger.checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();

REVOKE ALL ON ledger.checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON ledger.checkpoints TO credledger_app;
