-- issuance.claim_issued (migration 0260) re-keys rows under superseded
-- learner keys (every learner has some: the legacy identityHash key) by
-- joining the table to unnest($15, $16) on learner_key alone. On a table
-- without statistics (a young database, before autovacuum first analyses
-- it) the planner chose a hash join over a sequential scan of
-- issuance.credentials: every issuance group read the whole table (8 ms at
-- 15,000 credentials in bench/issue_single.py, growing with the table).
-- The same join also matched through `= ANY` of an array the planner cannot
-- see into (implied by the join, so the same rows change) goes by the
-- learner_key index (migration 0250) with or without statistics, as
-- rekey_superseded's UPDATEs already do (queries.sql): 0.24 ms there.
-- Nothing else changes; CREATE OR REPLACE keeps the function's grants.
CREATE OR REPLACE FUNCTION issuance.claim_issued(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[]
) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    -- Rows still under superseded learner keys take the current ones ($15
    -- old, $16 new), the references are claimed as in claim_credentials,
    -- and the sealed contact of each learner whose credential was claimed is
    -- kept ($17 keys, sorted and distinct, $18 sealed addresses).
    RETURN QUERY
    WITH rekeyed AS (
        UPDATE issuance.credentials AS c SET learner_key = m.new_key
          FROM unnest($15::text[], $16::text[]) AS m (old_key, new_key)
         WHERE c.learner_key = m.old_key AND c.learner_key = ANY (ARRAY(SELECT unnest($15::text[])))
    ), rekeyed_stacks AS (
        UPDATE issuance.stacks AS s SET learner_key = m.new_key
          FROM unnest($15::text[], $16::text[]) AS m (old_key, new_key)
         WHERE s.learner_key = m.old_key AND s.learner_key = ANY (ARRAY(SELECT unnest($15::text[])))
    ), claimed AS (
        INSERT INTO issuance.credentials (
            credential_id, issuer_id, issuer_reference, achievement_id, learner_hash, learner_key, identity_type,
            identity_salt, holder_token_hash, key_id, signing, pathway_id, valid_from, valid_until)
        SELECT * FROM unnest(
            $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])
        ON CONFLICT (issuer_id, issuer_reference) DO NOTHING
        RETURNING credential_id, learner_key
    ), remembered AS (
        INSERT INTO issuance.learner_contacts (learner_key, sealed_address)
        SELECT u.learner_key, u.sealed FROM unnest($17::text[], $18::bytea[]) AS u (learner_key, sealed)
         WHERE u.learner_key IN (SELECT claimed.learner_key FROM claimed)
         ORDER BY u.learner_key
        ON CONFLICT (learner_key) DO UPDATE SET sealed_address = EXCLUDED.sealed_address, updated_at = now()
    )
    SELECT claimed.credential_id FROM claimed;
END;
$$;
