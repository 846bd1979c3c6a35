-- Leaf v2 (docs/ledger-format.md): snapshots hold v1 leaf hashes, which the
-- tree must not mix with v2 ones. They are a cache; the service rebuilds the
-- tree from the ledger on its next start.
DELETE FROM verification.log_tree_snapshots;
