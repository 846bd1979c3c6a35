-- The database, not only the application, keeps the hash chain whole: an
-- INSERT into ledger.events commits only if its rows extend the chain at
-- the head (docs/ledger-format.md, "Enforcement"). This holds for every
-- role, the application role included; rewriting history needs the owner
-- to disable triggers, which the application role cannot do.

-- entry(n) exactly as shared/ledger/eventstore/chain.py builds it. STABLE, as
-- convert_to and text || bigint are: a function declared IMMUTABLE around
-- them would not be inlined, and a call per row costs more than its body.
CREATE FUNCTION ledger.entry_bytes(
    entry_position bigint, stream text, entry_version integer, entry_type text, payload bytea, metadata bytea
) RETURNS bytea LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT convert_to('{"metadata":', 'UTF8') || metadata
        || convert_to(',"payload":', 'UTF8') || payload
        || convert_to(',"position":' || entry_position || ',"stream":"' || stream
                      || '","type":"' || entry_type || '","version":' || entry_version || '}', 'UTF8')
$$;

-- A statement-level check over the transition table rather than a BEFORE
-- ROW trigger: COPY keeps its multi-row inserts (a BEFORE ROW trigger
-- turns them off), and the whole batch is hashed in one set-based query.
CREATE FUNCTION ledger.check_chain_extension() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    first_position bigint;
    last_position  bigint;
    appended       bigint;
    head_position  bigint;
    head_hash      bytea;
    broken         record;
BEGIN
    SELECT min(position), max(position), count(*) INTO first_position, last_position, appended
      FROM appended_rows;
    IF appended = 0 THEN
        RETURN NULL;
    END IF;
    -- The rows below the batch are the head this append must extend (the
    -- batch itself is already in the table at this point).
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
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_extend_chain
    AFTER INSERT ON ledger.events
    REFERENCING NEW TABLE AS appended_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.check_chain_extension();

-- LOCK TABLE ... EXCLUSIVE needs UPDATE, DELETE or TRUNCATE privilege, none
-- of which the application role has (nor should have). This function takes
-- the appenders' lock on its behalf; the lock lasts until the caller's
-- transaction ends, as a direct LOCK TABLE would.
CREATE FUNCTION ledger.lock_for_append() RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    LOCK TABLE ledger.events IN EXCLUSIVE MODE;
END;
$$;
REVOKE ALL ON FUNCTION ledger.lock_for_append() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.lock_for_append() TO credledger_app;

-- Projections keep the hash of the last position they applied, so a
-- restarted consumer can check the next broker record's prev_hash. NULL in
-- rows written before this column: the runner reads that hash from the ledger.
ALTER TABLE ledger.projection_progress
    ADD COLUMN hash bytea CHECK (hash IS NULL OR length(hash) = 32);
