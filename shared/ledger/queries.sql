-- name: lock_and_read_head
-- EXCLUSIVE blocks other appenders (they need ROW EXCLUSIVE to insert) but
-- not readers. Held until commit, it makes position order equal commit
-- order: the property that lets readers tail the log by position. Taken
-- through a SECURITY DEFINER function: the application role has no UPDATE
-- privilege, which a direct LOCK TABLE in this mode would need. The same
-- call reads the head this append extends and the current version of every
-- stream it names (absent streams are absent): one round trip (migration 0140).
SELECT head_position, head_hash, stream_ids, versions FROM ledger.lock_and_read_head($1::text[])

-- name: append_rows
-- A small group's rows in one statement with its wake-up hint (delivered at
-- commit); large groups COPY. The chain trigger checks either alike.
WITH appended AS (
    INSERT INTO ledger.events (position, stream_id, version, event_type, payload, metadata, prev_hash, hash)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bytea[], $6::bytea[],
                         $7::bytea[], $8::bytea[])
    RETURNING position
)
SELECT pg_notify('ledger_appended', max(position)::text) FROM appended

-- name: stream_versions
-- One index scan with array keys; streams not in the ledger yet are absent.
SELECT stream_id, max(version) AS version
  FROM ledger.events
 WHERE stream_id = ANY($1::text[])
 GROUP BY stream_id

-- name: notify_appended
SELECT pg_notify('ledger_appended', $1::text)

-- name: read_from
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1
 ORDER BY position
 LIMIT $2

-- name: read_range
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1 AND position <= $2
 ORDER BY position

-- name: hash_at
SELECT hash FROM ledger.events WHERE position = $1

-- name: read_stream
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE stream_id = $1
 ORDER BY version

-- name: head_position
SELECT coalesce(max(position), 0) FROM ledger.events

-- name: checkpoints
SELECT tree_size, signed_note FROM ledger.checkpoints ORDER BY tree_size

-- name: log_keys
SELECT vkey FROM ledger.log_keys ORDER BY first_used

-- The readers other packages use (shared/ledger/readers.py): nothing outside
-- shared/ledger names ledger tables.

-- name: first_events
-- Version 1 of each stream: the event that opened it (the unique
-- (stream_id, version) index answers this).
SELECT stream_id, position, event_type, payload
  FROM ledger.events
 WHERE stream_id = ANY($1::text[]) AND version = 1

-- name: stream_event_types
-- A stream's state is often the fold of its event types; no payloads read.
SELECT stream_id, version, event_type
  FROM ledger.events
 WHERE stream_id = ANY($1::text[])
 ORDER BY stream_id, version

-- name: payloads_of_types
SELECT payload
  FROM ledger.events
 WHERE stream_id = ANY($1::text[]) AND event_type = ANY($2::text[])

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

-- name: read_range_of_types
-- $3 is a LIKE pattern on event_type, e.g. 'registry.%'.
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1 AND position <= $2 AND event_type LIKE $3
 ORDER BY position

-- Delivery and the transparency log (relay.py, checkpoints.py, audit.py).

-- name: try_advisory_lock
-- The relay's and the checkpointer's leader election (one active each).
SELECT pg_try_advisory_lock($1)

-- name: register_relay
INSERT INTO ledger.relay_progress (relay) VALUES ($1) ON CONFLICT DO NOTHING

-- name: relay_position
SELECT position FROM ledger.relay_progress WHERE relay = $1

-- name: save_relay_position
UPDATE ledger.relay_progress SET position = $2, updated_at = now() WHERE relay = $1

-- name: reset_relay_position
UPDATE ledger.relay_progress SET position = 0, updated_at = now() WHERE relay = $1

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
