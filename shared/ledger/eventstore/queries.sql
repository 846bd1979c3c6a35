-- Named SQL of the event store (see shared/db/sql.py): appends, and every
-- read of ledger.events; the other subsystems and the services read events
-- through the store's functions and readers, not their own SQL.

-- name: lock_for_append
-- EXCLUSIVE blocks other appenders (they need ROW EXCLUSIVE to insert) but
-- not readers. Held until commit, it makes position order equal commit
-- order: the property that lets readers tail the log by position. Taken
-- through a SECURITY DEFINER function: the application role has no UPDATE
-- privilege, which a direct LOCK TABLE in this mode would need (migration 0010).
SELECT ledger.lock_for_append()

-- name: head
SELECT position, hash FROM ledger.events ORDER BY position DESC LIMIT 1

-- name: stream_versions
-- One index scan with array keys; streams not in the ledger yet are absent.
SELECT stream_id, max(version) AS version
  FROM ledger.events
 WHERE stream_id = ANY($1::text[])
 GROUP BY stream_id

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

-- name: read_range_of_types
-- $3 is a LIKE pattern on event_type, e.g. 'registry.%'.
SELECT position, stream_id, version, event_type, payload, metadata, prev_hash, hash
  FROM ledger.events
 WHERE position > $1 AND position <= $2 AND event_type LIKE $3
 ORDER BY position

-- name: lock_and_read_head
-- EXCLUSIVE blocks other appenders (they need ROW EXCLUSIVE to insert) but
-- not readers. Held until commit, it makes position order equal commit
-- order: the property that lets readers tail the log by position. Taken
-- through a SECURITY DEFINER function: the application role has no UPDATE
-- privilege, which a direct LOCK TABLE in this mode would need. The same
-- call reads the head this append extends and the current version of every
-- stream it names (absent streams are absent): one round trip (migration 0140).
SELECT head_position, head_hash, stream_ids, versions FROM ledger.lock_and_read_head($1::text[])

-- name: append_events
-- A small group in one call: lock, head, versions, expectations, numbering,
-- chaining and insert (migrations 0240, 0340; the chain trigger sends the
-- wake-up hint). Outside an explicit
-- transaction this one round trip is the whole append, commit included.
SELECT positions, conflict_callers, conflict_streams, conflict_expected, conflict_actual
  FROM ledger.append_events($1::integer[], $2::text[], $3::text[], $4::bytea[], $5::bytea[],
                            $6::integer[], $7::text[], $8::integer[])
