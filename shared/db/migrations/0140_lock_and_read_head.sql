-- Group commit (shared/ledger/eventstore/sequencer.py) holds the append lock for as
-- few round trips as it can: taking the lock and reading what the append
-- extends (the head, and the version of every stream it names) is one call.
-- The reads come after the LOCK inside this VOLATILE function, so each takes
-- a fresh snapshot and sees every append committed before the lock was
-- granted (one statement reading in the caller would use the snapshot taken
-- before it waited for the lock). SECURITY DEFINER for the same reason as
-- ledger.lock_for_append() (migration 0010).
CREATE FUNCTION ledger.lock_and_read_head(
    streams text[], OUT head_position bigint, OUT head_hash bytea, OUT stream_ids text[], OUT versions integer[]
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    LOCK TABLE ledger.events IN EXCLUSIVE MODE;
    SELECT e.position, e.hash INTO head_position, head_hash
      FROM ledger.events e ORDER BY e.position DESC LIMIT 1;
    head_position := coalesce(head_position, 0);
    SELECT array_agg(v.stream_id ORDER BY v.stream_id), array_agg(v.version ORDER BY v.stream_id)
      INTO stream_ids, versions
      FROM (SELECT e.stream_id, max(e.version) AS version
              FROM ledger.events e
             WHERE e.stream_id = ANY(streams)
             GROUP BY e.stream_id) v;
END;
$$;
REVOKE ALL ON FUNCTION ledger.lock_and_read_head(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.lock_and_read_head(text[]) TO credledger_app;
