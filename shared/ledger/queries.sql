-- name: lock_for_append
-- EXCLUSIVE blocks other appenders (they need ROW EXCLUSIVE to insert) but
-- not readers. Held until commit, it makes position order equal commit
-- order: the property that lets readers tail the log by position. Taken
-- through a SECURITY DEFINER function: the application role has no UPDATE
-- privilege, which a direct LOCK TABLE in this mode would need (migration 0010).
SELECT ledger.lock_for_append()

-- name: head_and_versions
-- After the lock, in one round trip: the head this append extends and the
-- current version of every stream it names (absent streams are absent).
WITH head AS (SELECT position, hash FROM ledger.events ORDER BY position DESC LIMIT 1),
     versions AS (SELECT stream_id, max(version) AS version
                    FROM ledger.events
                   WHERE stream_id = ANY($1::text[])
                   GROUP BY stream_id)
SELECT coalesce((SELECT position FROM head), 0) AS position,
       (SELECT hash FROM head) AS hash,
       (SELECT array_agg(stream_id ORDER BY stream_id) FROM versions) AS streams,
       (SELECT array_agg(version ORDER BY stream_id) FROM versions) AS versions

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
