-- A small group commit (shared/ledger/eventstore/sequencer.py) in one round
-- trip: take the append lock, read the head and the named streams' versions,
-- check each caller's expected versions in caller order, number and chain
-- its events, insert them and send the relay's wake-up hint, all in one call.
-- Called outside an explicit transaction, the statement is its own
-- transaction, so the lock is held only for this call and the commit
-- (before: BEGIN, lock-and-head, insert and COMMIT, four round trips, three
-- of them under the lock). The chain hashes are computed here with the very
-- ledger.entry_bytes the chain trigger checks them with (migration 0010),
-- so this function cannot write an entry the trigger would not accept.
--
-- Events arrive as parallel arrays, grouped by caller (`callers` is the
-- caller index of each event, ascending); expectations likewise. A caller
-- whose expectation fails writes nothing: its events get NULL positions and
-- its first failed expectation is returned; the other callers' events are
-- numbered as if it had not been there. Reads come after the LOCK inside
-- this VOLATILE function, so they see every append committed before the
-- lock was granted (as in ledger.lock_and_read_head, migration 0140).
CREATE FUNCTION ledger.append_events(
    callers integer[], stream_ids text[], event_types text[], payloads bytea[], metadata bytea[],
    expected_callers integer[], expected_streams text[], expected_versions integer[],
    OUT positions bigint[], OUT conflict_callers integer[], OUT conflict_streams text[],
    OUT conflict_expected integer[], OUT conflict_actual integer[]
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    events_count integer := coalesce(array_length(stream_ids, 1), 0);
    expected_count integer := coalesce(array_length(expected_callers, 1), 0);
    head bigint;
    prev bytea;
    versions jsonb;
    event_versions integer[] := array_fill(NULL::integer, ARRAY[events_count]);
    prev_hashes bytea[] := array_fill(NULL::bytea, ARRAY[events_count]);
    hashes bytea[] := array_fill(NULL::bytea, ARRAY[events_count]);
    caller integer;
    actual integer;
    failed boolean;
    i integer := 1;
    e integer;
BEGIN
    positions := array_fill(NULL::bigint, ARRAY[events_count]);
    conflict_callers := '{}';
    conflict_streams := '{}';
    conflict_expected := '{}';
    conflict_actual := '{}';
    LOCK TABLE ledger.events IN EXCLUSIVE MODE;
    SELECT ev.position, ev.hash INTO head, prev FROM ledger.events ev ORDER BY ev.position DESC LIMIT 1;
    head := coalesce(head, 0);
    prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
    SELECT coalesce(jsonb_object_agg(v.stream_id, v.version), '{}'::jsonb) INTO versions
      FROM (SELECT ev.stream_id, max(ev.version) AS version
              FROM ledger.events ev
             WHERE ev.stream_id = ANY(stream_ids || expected_streams)
             GROUP BY ev.stream_id) v;
    FOR caller IN SELECT DISTINCT c FROM unnest(callers || expected_callers) AS c ORDER BY c LOOP
        failed := false;
        FOR e IN 1..expected_count LOOP
            CONTINUE WHEN expected_callers[e] <> caller;
            actual := coalesce((versions ->> expected_streams[e])::integer, 0);
            IF actual <> expected_versions[e] THEN
                conflict_callers := conflict_callers || caller;
                conflict_streams := conflict_streams || expected_streams[e];
                conflict_expected := conflict_expected || expected_versions[e];
                conflict_actual := conflict_actual || actual;
                failed := true;
                EXIT;
            END IF;
        END LOOP;
        WHILE i <= events_count AND callers[i] = caller LOOP
            IF NOT failed THEN
                head := head + 1;
                actual := coalesce((versions ->> stream_ids[i])::integer, 0) + 1;
                versions := versions || jsonb_build_object(stream_ids[i], actual);
                positions[i] := head;
                event_versions[i] := actual;
                prev_hashes[i] := prev;
                prev := sha256(prev || ledger.entry_bytes(head, stream_ids[i], actual, event_types[i], payloads[i],
                                                          metadata[i]));
                hashes[i] := prev;
            END IF;
            i := i + 1;
        END LOOP;
    END LOOP;
    IF i <= events_count THEN
        RAISE EXCEPTION 'ledger.append_events: callers must be ascending' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO ledger.events (position, stream_id, version, event_type, payload, metadata, prev_hash, hash)
    SELECT u.p, u.s, u.v, u.t, u.pl, u.m, u.ph, u.h
      FROM unnest(positions, stream_ids, event_versions, event_types, payloads, metadata, prev_hashes, hashes)
           AS u (p, s, v, t, pl, m, ph, h)
     WHERE u.p IS NOT NULL
     ORDER BY u.p;
    IF FOUND THEN
        PERFORM pg_notify('ledger_appended', head::text);  -- delivered at commit: a hint, never a guarantee
    END IF;
END;
$$;
REVOKE ALL ON FUNCTION ledger.append_events(integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.append_events(integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[])
    TO credledger_app;
