-- Named SQL of the transparency log (see shared/db/sql.py): checkpoints,
-- log keys and the audit's chain scan.

-- name: checkpoints
SELECT tree_size, signed_note FROM ledger.checkpoints ORDER BY tree_size

-- name: log_keys
SELECT vkey FROM ledger.log_keys ORDER BY first_used

-- name: latest_checkpoint
SELECT signed_note FROM ledger.checkpoints ORDER BY tree_size DESC LIMIT 1

-- name: checkpoint_of_size
SELECT signed_note FROM ledger.checkpoints WHERE tree_size = $1

-- name: covering_checkpoint
-- The largest checkpoint that includes position $1 and that a replica whose
-- tree has $2 leaves can prove against.
SELECT tree_size, signed_note
  FROM ledger.checkpoints
 WHERE tree_size >= $1 AND tree_size <= $2
 ORDER BY tree_size DESC
 LIMIT 1

-- name: register_log_key
INSERT INTO ledger.log_keys (vkey) VALUES ($1) ON CONFLICT DO NOTHING

-- name: last_checkpoint_size
SELECT coalesce(max(tree_size), 0) FROM ledger.checkpoints

-- name: insert_checkpoint
INSERT INTO ledger.checkpoints (tree_size, root_hash, signed_note) VALUES ($1, $2, $3) ON CONFLICT (tree_size) DO NOTHING

-- name: audit_scan
-- One chunk of `credledger audit verify`: ($1, least($1 + $3, $2)].
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1 AND position <= least($1 + $3, $2)
 ORDER BY position

-- name: audit_copy
-- The audit's fast reader (copy_rows.py), as binary COPY: the fixed-width
-- columns first, then the variable ones, which the reader walks by their own
-- length words (-1 for a NULL the schema forbids). No further columns: each
-- costs the server a send function call per row, and the read is most of
-- the audit's time. LIMIT rather than an upper bound: ordered by the primary
-- key either way, and without statistics (a log just loaded) the planner
-- otherwise sorts the range on disk.
SELECT position, version, prev_hash, hash, stream_id, event_type, payload, metadata
  FROM ledger.events
 WHERE position > $1
 ORDER BY position
 LIMIT $2

-- name: try_advisory_lock
-- The checkpointer's leader election (one active).
SELECT pg_try_advisory_lock($1)
