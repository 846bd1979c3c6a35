-- Revocation owns the status lists; issuance gets entries for new
-- credentials only through this function (docs/ownership.md, docs/status.md),
-- so it needs EXECUTE, not UPDATE on revocation.status_lists.
--
-- One call grants up to p_wanted consecutive entries of the issuer's oldest
-- open list for p_purpose (fewer when that list fills: the caller asks
-- again), opening the list the caller proposes (p_new_list_id, p_new_key) when
-- none is open. The entries' indexes are permute(permutation_key, k) for k in
-- [first, first + granted), computed by the caller.
--
-- `first` and `granted` are computed in the locking SELECT on purpose: under
-- READ COMMITTED, a row locked after waiting for a concurrent allocator is
-- re-read at its newest version there, whereas any other read of the table
-- in this statement sees the statement's older snapshot (and would hand out
-- the same entries twice). Each statement of a volatile PL/pgSQL function
-- takes a new snapshot, so this holds inside the function as it did outside.
-- A new list is marked changed, so the revocation service publishes it, all
-- zeros, before anyone asks for it.

CREATE OR REPLACE FUNCTION revocation.claim_status_entries(
    p_issuer_id text, p_purpose text, p_wanted integer, p_new_list_id text, p_new_size integer, p_new_key bytea)
    RETURNS TABLE (list_id text, permutation_key bytea, size integer, first integer, granted integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
#variable_conflict use_column
BEGIN
    FOR attempt IN 1..2 LOOP
        RETURN QUERY
        WITH target AS (
            SELECT l.list_id, l.allocated AS first, least(p_wanted, l.size - l.allocated) AS granted
              FROM revocation.status_lists l
             WHERE l.issuer_id = p_issuer_id AND l.purpose = p_purpose AND l.allocated < l.size
             ORDER BY l.created_at, l.list_id
             LIMIT 1
               FOR UPDATE
        )
        UPDATE revocation.status_lists s
           SET allocated = target.first + target.granted
          FROM target
         WHERE s.list_id = target.list_id
        RETURNING s.list_id, s.permutation_key, s.size, target.first, target.granted;
        IF FOUND OR attempt = 2 THEN
            RETURN;
        END IF;
        -- No open list: open the proposed one. A concurrent allocator may
        -- open one too; both are valid lists, one just fills later.
        INSERT INTO revocation.status_lists (list_id, issuer_id, purpose, size, permutation_key)
        VALUES (p_new_list_id, p_issuer_id, p_purpose, p_new_size, p_new_key);
        INSERT INTO revocation.list_changes (list_id) VALUES (p_new_list_id);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION revocation.claim_status_entries(text, text, integer, text, integer, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revocation.claim_status_entries(text, text, integer, text, integer, bytea)
    TO credledger_app;
