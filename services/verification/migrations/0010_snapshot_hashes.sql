-- Each snapshot keeps the chain hash of its position, so a restarted
-- projection checks the very next broker record's prev_hash against it
-- (shared/ledger/delivery/feed.py). NULL in snapshots taken before: the runner then
-- reads that position's hash from the ledger.
ALTER TABLE verification.snapshots
    ADD COLUMN last_hash bytea CHECK (last_hash IS NULL OR length(last_hash) = 32);
ALTER TABLE verification.log_tree_snapshots
    ADD COLUMN last_hash bytea CHECK (last_hash IS NULL OR length(last_hash) = 32);
