-- A hosted issuance group in one round trip (services/issuance/claiming.py).
--
-- issuance.claim_issued is the claim every group runs before its append
-- (re-keying, reference claims, sealed contacts): the statement that was
-- the `claim_issued` block of queries.sql, unchanged, moved here so the
-- function below can run it too; queries.sql now calls it.
--
-- issuance.claim_and_append runs a whole small group as one statement,
-- sent outside any transaction, so it is its own transaction and commits
-- as it returns: the claim, the idempotent responses and the append
-- (ledger.append_events, migration 0240). A lone single-credential request
-- used to pay four round trips (BEGIN, claim, append, COMMIT); this is one.
-- It writes either everything or nothing: when the group is not the
-- common case (a reference claimed before, an Idempotency-Key already
-- stored, a stream not at its expected version) it raises, the implicit
-- transaction rolls back, and the group commit writes the group the staged
-- way, which answers each caller alone (sequencer.py). Claims come before
-- the append lock, as on the staged path, so the lock covers the append.
CREATE FUNCTION issuance.claim_issued(
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
         WHERE c.learner_key = m.old_key
    ), rekeyed_stacks AS (
        UPDATE issuance.stacks AS s SET learner_key = m.new_key
          FROM unnest($15::text[], $16::text[]) AS m (old_key, new_key)
         WHERE s.learner_key = m.old_key
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

-- $1-$18 the claim (as issuance.claim_issued), $19-$22 the idempotent
-- responses to store (client, key, fingerprint, response), $23-$30 the
-- append (as ledger.append_events); the OUT columns are the append's.
CREATE FUNCTION issuance.claim_and_append(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[],
    text[], text[], bytea[], bytea[],
    integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[],
    OUT positions bigint[], OUT conflict_callers integer[], OUT conflict_streams text[],
    OUT conflict_expected integer[], OUT conflict_actual integer[]
) LANGUAGE plpgsql AS $$
DECLARE
    done integer;
BEGIN
    SELECT count(*) INTO done
      FROM issuance.claim_issued($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18);
    IF done <> coalesce(array_length($1, 1), 0) THEN
        RAISE EXCEPTION 'issuance.claim_and_append: a reference of the group was claimed before'
            USING ERRCODE = 'unique_violation';
    END IF;
    -- As save_idempotent_response (queries.sql), for all the group's keys.
    INSERT INTO issuance.idempotency_keys (client_id, idempotency_key, fingerprint, response)
    SELECT * FROM unnest($19, $20, $21, $22)
    ON CONFLICT (client_id, idempotency_key) DO NOTHING;
    GET DIAGNOSTICS done = ROW_COUNT;
    IF done <> coalesce(array_length($19, 1), 0) THEN
        RAISE EXCEPTION 'issuance.claim_and_append: an idempotency key of the group was used before'
            USING ERRCODE = 'unique_violation';
    END IF;
    SELECT a.positions, a.conflict_callers, a.conflict_streams, a.conflict_expected, a.conflict_actual
      INTO positions, conflict_callers, conflict_streams, conflict_expected, conflict_actual
      FROM ledger.append_events($23, $24, $25, $26, $27, $28, $29, $30) AS a;
    IF cardinality(conflict_callers) > 0 THEN
        RAISE EXCEPTION 'issuance.claim_and_append: a stream of the group is not at its expected version'
            USING ERRCODE = 'unique_violation';
    END IF;
END;
$$;
REVOKE ALL ON FUNCTION issuance.claim_issued(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION issuance.claim_issued(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[]) TO credledger_app;
REVOKE ALL ON FUNCTION issuance.claim_and_append(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[], text[], text[], bytea[], bytea[],
    integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION issuance.claim_and_append(
    text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[], text[],
    timestamptz[], timestamptz[], text[], text[], text[], bytea[], text[], text[], bytea[], bytea[],
    integer[], text[], text[], bytea[], bytea[], integer[], text[], integer[]) TO credledger_app;
