-- The chain trigger (0340's one ordered pass) sorts digests, not entries.
--
-- 0010's link check (`lag(hash) OVER (ORDER BY position)`) sorted whatever the
-- query above it still needed, and Postgres computes a window query's other
-- expressions after the window: so the sort carried every appended row
-- whole, payload and metadata included, to hash them afterwards. A bulk
-- append of 10,000 credentials (~40 MB) sorted on disk, in temporary files
-- written and read back once per batch (perf of the backend: ~6 % of its CPU
-- in the sort, more in its file writes). The digest of each entry is now
-- computed in a subquery the planner cannot flatten (OFFSET 0), so the sort
-- holds position and three 32-byte hashes a row and fits in work_mem.
--
-- 0340's pass (`FOR r IN ... ORDER BY position`) sorted whole rows the same
-- way. Here both the pass and the diagnosis of a fault sort digests. The
-- checks are those of 0010, with the same errors in the same cases: the
-- positions continue the head without a gap, every prev_hash is its
-- predecessor's hash (the head's for the first row), and every hash is the
-- SHA-256 of its entry; the first failing position in order is the one named.
-- As in 0340, the accepted rows' last position goes to the relay as the
-- wake-up hint (NOTIFY, delivered at commit only).
CREATE OR REPLACE FUNCTION ledger.check_chain_extension() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r              record;
    next_position  bigint;
    next_prev      bytea;
    on_chain       boolean := true;
    first_position bigint;
    last_position  bigint;
    appended       bigint;
    head_position  bigint;
    head_hash      bytea;
    broken         record;
BEGIN
    FOR r IN SELECT d.position, d.prev_hash, d.hash, d.computed
               FROM (SELECT a.position, a.prev_hash, a.hash,
                            sha256(a.prev_hash || ledger.entry_bytes(a.position, a.stream_id, a.version,
                                                                     a.event_type, a.payload, a.metadata)) AS computed
                       FROM appended_rows a
                     OFFSET 0) d
              ORDER BY d.position LOOP
        IF next_position IS NULL THEN
            SELECT e.position, e.hash INTO next_position, next_prev
              FROM ledger.events e WHERE e.position < r.position ORDER BY e.position DESC LIMIT 1;
            next_position := coalesce(next_position, 0) + 1;
            next_prev := coalesce(next_prev, decode(repeat('00', 32), 'hex'));
        END IF;
        on_chain := r.position = next_position AND r.prev_hash = next_prev AND r.hash = r.computed;
        EXIT WHEN on_chain IS NOT TRUE;
        next_position := next_position + 1;
        next_prev := r.hash;
    END LOOP;
    IF on_chain IS TRUE THEN
        IF next_position IS NOT NULL THEN  -- rows were appended: wake the relay at commit (a hint)
            PERFORM pg_notify('ledger_appended', (next_position - 1)::text);
        END IF;
        RETURN NULL;
    END IF;
    SELECT min(position), max(position), count(*) INTO first_position, last_position, appended
      FROM appended_rows;
    SELECT e.position, e.hash INTO head_position, head_hash
      FROM ledger.events e WHERE e.position < first_position ORDER BY e.position DESC LIMIT 1;
    head_position := coalesce(head_position, 0);
    head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
    IF first_position <> head_position + 1 OR last_position - first_position + 1 <> appended THEN
        RAISE EXCEPTION 'ledger.events: an append must continue at position % (got % to %)',
            head_position + 1, first_position, last_position
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT c.position, c.prev_hash = c.expected_prev AS linked INTO broken
      FROM (SELECT d.position, d.prev_hash, d.hash, d.computed,
                   lag(d.hash, 1, head_hash) OVER (ORDER BY d.position) AS expected_prev
              FROM (SELECT a.position, a.prev_hash, a.hash,
                           sha256(a.prev_hash || ledger.entry_bytes(a.position, a.stream_id, a.version,
                                                                    a.event_type, a.payload, a.metadata)) AS computed
                      FROM appended_rows a
                    OFFSET 0) d) c
     WHERE c.prev_hash <> c.expected_prev OR c.hash <> c.computed
     ORDER BY c.position LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger.events: position % %', broken.position,
            CASE WHEN broken.linked THEN 'has a hash that does not match its content'
                 ELSE 'has a prev_hash that is not the hash of its predecessor' END
            USING ERRCODE = 'check_violation';
    END IF;
    RAISE EXCEPTION 'ledger.events: position % does not extend the chain', r.position
        USING ERRCODE = 'check_violation';
END;
$$;
