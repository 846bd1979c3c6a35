-- Named SQL of delivery (see shared/db/sql.py): the relay's and the
-- projections' progress rows, and the relay's leader lock.

-- name: projection_applied
SELECT position, hash FROM ledger.projection_progress WHERE projection = $1

-- name: lock_projection_progress
-- Row lock on the progress row: two runners of the same projection (a
-- rebalance overlap) serialise here.
INSERT INTO ledger.projection_progress (projection) VALUES ($1)
    ON CONFLICT (projection) DO UPDATE SET projection = EXCLUDED.projection
RETURNING position

-- name: save_projection_progress
UPDATE ledger.projection_progress SET position = $2, hash = $3, updated_at = now() WHERE projection = $1

-- name: advance_projection_progress
-- For a batch that writes only a projection's progress (projection.py): one
-- statement, its own transaction, committed without waiting for its fsync
-- (set_config's local value holds until that transaction's commit). The row
-- lock of the upsert serialises it with a runner applying a batch; a
-- position already past is left as it is.
WITH without_flush AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO ledger.projection_progress AS p (projection, position, hash, updated_at)
    SELECT $1, $2, $3, now() FROM without_flush
    ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position, hash = EXCLUDED.hash, updated_at = now()
    WHERE p.position < EXCLUDED.position

-- name: advance_projection_progress_if_anchored
-- As advance_projection_progress, for a batch from the broker: only if the
-- ledger holds that hash at that position (the runner's anchor check and
-- the write in one round trip; ledger.holds, migration 0290); whether it does.
WITH without_flush AS (SELECT set_config('synchronous_commit', 'off', true)),
anchor AS (SELECT ledger.holds($2, $3) AS held),
advanced AS (
    INSERT INTO ledger.projection_progress AS p (projection, position, hash, updated_at)
        SELECT $1, $2, $3, now() FROM without_flush, anchor WHERE anchor.held
        ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position, hash = EXCLUDED.hash, updated_at = now()
        WHERE p.position < EXCLUDED.position
)
SELECT held FROM anchor

-- name: commit_without_flush
-- For a transaction that writes only a projection's progress (projection.py).
SET LOCAL synchronous_commit = off

-- name: register_relay
INSERT INTO ledger.relay_progress (relay) VALUES ($1) ON CONFLICT DO NOTHING

-- name: relay_position
SELECT position FROM ledger.relay_progress WHERE relay = $1

-- name: save_relay_position
UPDATE ledger.relay_progress SET position = $2, updated_at = now() WHERE relay = $1

-- name: reset_relay_position
UPDATE ledger.relay_progress SET position = 0, updated_at = now() WHERE relay = $1

-- name: try_advisory_lock
-- The relay's leader election (one active).
SELECT pg_try_advisory_lock($1)
