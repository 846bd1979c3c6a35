-- Round eight of the ledger write path (docs/performance.md): the fixed
-- work of each append statement, measured with callgrind on a single-user
-- backend, is cut where it is not the append's own.
--
-- 1. ledger.append_events (migrations 0240, 0330) keeps its arguments,
--    answers and checks, with fewer statements: no query to list the callers
--    (one pass over the events and expectations, both grouped by caller in
--    ascending order, as the caller has always had to send them), stream
--    versions in two arrays rather than a jsonb object rebuilt per event,
--    and no sort before the insert (positions are assigned in array order).
--    The wake-up hint moves to the chain trigger (3.).
-- 2. The chain trigger checks a statement's rows in one ordered pass instead
--    of three queries (bounds, head, a window over the rows); only when that
--    pass finds a row off the chain does it run the former checks, so every
--    refusal keeps its message. The rule is unchanged: consecutive
--    positions right after the head, each prev_hash the hash before it, each
--    hash recomputed from the row (docs/ledger-format.md, "Enforcement").
-- 3. The trigger also sends the relay's wake-up hint for the rows it
--    accepted, so an append by COPY no longer spends a round trip of its own
--    on it, and every insert into ledger.events wakes the relay, whichever
--    path wrote it. Delivered at commit, never on rollback: a hint, as before
--    (polling is the relay's guarantee).
-- 4. ledger.entry_bytes builds the same bytes with its two fixed JSON keys
--    as bytea constants: convert_to is STABLE, so it ran for each of them on
--    every row.

-- Arguments and answer as in migration 0240. `streams`/`versions`: each named
-- stream's version as the callers so far leave it (absent: not in the ledger
-- yet), so a caller's expectations see the earlier callers' events.
CREATE OR REPLACE FUNCTION ledger.append_events(
    callers integer[], stream_ids text[], event_types text[], payloads bytea[], metadata bytea[],
    expected_callers integer[], expected_streams text[], expected_versions integer[],
    OUT positions bigint[], OUT conflict_callers integer[], OUT conflict_streams text[],
    OUT conflict_expected integer[], OUT conflict_actual integer[]
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog SET enable_seqscan = off AS $$
DECLARE
    events_count integer := coalesce(array_length(stream_ids, 1), 0);
    expected_count integer := coalesce(array_length(expected_callers, 1), 0);
    head bigint;
    prev bytea;
    streams text[];
    versions integer[];
    event_versions integer[];
    prev_hashes bytea[];
    hashes bytea[];
    caller integer;
    next_caller integer;
    failed boolean;
    actual integer;
    k integer;
    i integer := 1;
    e integer := 1;
BEGIN
    positions := array_fill(NULL::bigint, ARRAY[events_count]);
    event_versions := array_fill(NULL::integer, ARRAY[events_count]);
    prev_hashes := array_fill(NULL::bytea, ARRAY[events_count]);
    hashes := prev_hashes;
    conflict_callers := '{}';
    conflict_streams := '{}';
    conflict_expected := '{}';
    conflict_actual := '{}';
    LOCK TABLE ledger.events IN EXCLUSIVE MODE;
    SELECT ev.position, ev.hash INTO head, prev FROM ledger.events ev ORDER BY ev.position DESC LIMIT 1;
    SELECT array_agg(v.stream_id), array_agg(v.version) INTO streams, versions
      FROM (SELECT ev.stream_id, max(ev.version) AS version
              FROM ledger.events ev
             WHERE ev.stream_id = ANY(stream_ids || expected_streams)
             GROUP BY ev.stream_id) v;
    head := coalesce(head, 0);
    prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
    WHILE i <= events_count OR e <= expected_count LOOP
        next_caller := least(callers[i], expected_callers[e]);
        IF next_caller IS NULL OR next_caller <= caller THEN
            RAISE EXCEPTION 'ledger.append_events: callers must be ascending' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        caller := next_caller;
        failed := false;
        WHILE e <= expected_count AND expected_callers[e] = caller LOOP
            actual := coalesce(versions[array_position(streams, expected_streams[e])], 0);
            IF NOT failed AND actual <> expected_versions[e] THEN
                conflict_callers := conflict_callers || caller;
                conflict_streams := conflict_streams || expected_streams[e];
                conflict_expected := conflict_expected || expected_versions[e];
                conflict_actual := conflict_actual || actual;
                failed := true;
            END IF;
            e := e + 1;
        END LOOP;
        WHILE i <= events_count AND callers[i] = caller LOOP
            IF NOT failed THEN
                k := array_position(streams, stream_ids[i]);
                IF k IS NULL THEN  -- a new stream
                    streams := streams || stream_ids[i];
                    versions := versions || 0;
                    k := array_length(streams, 1);
                END IF;
                versions[k] := versions[k] + 1;
                head := head + 1;
                positions[i] := head;
                event_versions[i] := versions[k];
                prev_hashes[i] := prev;
                prev := sha256(prev || ledger.entry_bytes(head, stream_ids[i], versions[k], event_types[i], payloads[i],
                                                          metadata[i]));
                hashes[i] := prev;
            END IF;
            i := i + 1;
        END LOOP;
    END LOOP;
    INSERT INTO ledger.events (position, stream_id, version, event_type, payload, metadata, prev_hash, hash)
    SELECT u.p, u.s, u.v, u.t, u.pl, u.m, u.ph, u.h
      FROM unnest(positions, stream_ids, event_versions, event_types, payloads, metadata, prev_hashes, hashes)
           AS u (p, s, v, t, pl, m, ph, h)
     WHERE u.p IS NOT NULL;
END;
$$;

-- entry(n) exactly as shared/ledger/eventstore/chain.py builds it (the
-- constants are the UTF-8 of '{"metadata":' and ',"payload":').
CREATE OR REPLACE FUNCTION ledger.entry_bytes(
    entry_position bigint, stream text, entry_version integer, entry_type text, payload bytea, metadata bytea
) RETURNS bytea LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT '\x7b226d65746164617461223a'::bytea || metadata || '\x2c227061796c6f6164223a'::bytea || payload
        || convert_to(',"position":' || entry_position || ',"stream":"' || stream
                      || '","type":"' || entry_type || '","version":' || entry_version || '}', 'UTF8')
$$;

-- One ordered pass over the statement's rows; the head is read once, at the
-- first row. A row off the chain ends the pass and the former checks
-- (migration 0010) find the first fault and raise its message; the last
-- RAISE is for a fault they do not name, which the pass's rule excludes.
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
    FOR r IN SELECT a.position, a.stream_id, a.version, a.event_type, a.payload, a.metadata, a.prev_hash, a.hash
               FROM appended_rows a ORDER BY a.position LOOP
        IF next_position IS NULL THEN
            SELECT e.position, e.hash INTO next_position, next_prev
              FROM ledger.events e WHERE e.position < r.position ORDER BY e.position DESC LIMIT 1;
            next_position := coalesce(next_position, 0) + 1;
            next_prev := coalesce(next_prev, decode(repeat('00', 32), 'hex'));
        END IF;
        on_chain := r.position = next_position AND r.prev_hash = next_prev
            AND r.hash = sha256(r.prev_hash || ledger.entry_bytes(r.position, r.stream_id, r.version, r.event_type,
                                                                  r.payload, r.metadata));
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
      FROM (SELECT a.position, a.prev_hash, a.hash,
                   lag(a.hash, 1, head_hash) OVER (ORDER BY a.position) AS expected_prev,
                   sha256(a.prev_hash || ledger.entry_bytes(a.position, a.stream_id, a.version,
                                                            a.event_type, a.payload, a.metadata)) AS computed
              FROM appended_rows a) c
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
