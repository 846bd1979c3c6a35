-- name: references_taken
SELECT issuer_reference, credential_id, achievement_id, learner_hash, learner_key
  FROM issuance.credentials
 WHERE issuer_id = $1 AND issuer_reference = ANY($2::text[])

-- name: claim_credentials
-- Rows arrive sorted by reference, so concurrent batches that share
-- references take the unique-index locks in the same order (no deadlock).
-- A reference another transaction claimed first is skipped here, after
-- waiting for that transaction to finish; the caller reports it as existing.
-- The claim is issuance.claim_issued's (migration 0260), with no learner to
-- re-key and no contact to keep.
SELECT credential_id FROM issuance.claim_issued(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], '{}'::text[], '{}'::text[],
    '{}'::text[], '{}'::bytea[]) AS credential_id

-- name: claim_issued
-- The writes of hosted issuance before its append, for every request of a
-- ledger group at once (claiming.py): re-keying (a large group's was done
-- just before, by rekey_superseded), reference claims and sealed contacts, in
-- one statement (issuance.claim_issued, migration 0260, which
-- issuance.claim_and_append runs too). Its round trip is paid once per group.
SELECT credential_id FROM issuance.claim_issued(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[], $16::text[],
    $17::text[], $18::bytea[]) AS credential_id

-- name: claim_and_append
-- A small group whole: claim, idempotent responses ($19-$22: client, key,
-- fingerprint, response) and append ($23-$30, as ledger.append_events), one
-- statement that commits as it returns, or raises having written nothing
-- (migration 0260).
SELECT positions, conflict_callers, conflict_streams, conflict_expected, conflict_actual
  FROM issuance.claim_and_append(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[], $16::text[],
    $17::text[], $18::bytea[], $19::text[], $20::text[], $21::bytea[], $22::bytea[],
    $23::integer[], $24::text[], $25::text[], $26::bytea[], $27::bytea[], $28::integer[], $29::text[],
    $30::integer[])

-- name: rekey_superseded
-- claim_issued's re-keying for a large group (store.py, PROBED_FROM):
-- rows still under superseded learner keys ($1 old) take the current ones
-- ($2 new), only if some row still carries a key of a superseded family
-- ($3 the families' first keys, $4 the bounds after their last; learners.py,
-- key_families): one descent per family and table of the text_pattern_ops
-- indexes (migration 0250). Skipping is exact, not a cached belief: every
-- CTE of one statement reads the same snapshot, and a row the UPDATEs could
-- match carries an old key, which lies in one of the probed families; so
-- when the probe finds none they would have changed nothing. Rows any
-- writer adds later, under whatever key, are seen by the next statement's
-- probe (as they would be by its UPDATEs).
-- When a family is present, `stale` probes the index once per old key (a
-- LATERAL with LIMIT stays a nested loop): joined to the table directly, the
-- planner read and sorted the whole table for a batch of 10,000. The UPDATEs
-- then match the few stale keys through an array whose size the planner
-- cannot see, so they too go by the index.
WITH superseded_present AS (
    SELECT FROM unnest($3::text[], $4::text[]) AS f (low, high)
     WHERE EXISTS (SELECT FROM issuance.credentials c WHERE c.learner_key ~>=~ f.low AND c.learner_key ~<~ f.high)
        OR EXISTS (SELECT FROM issuance.stacks s WHERE s.learner_key ~>=~ f.low AND s.learner_key ~<~ f.high)
     LIMIT 1
), stale AS (
    SELECT m.old_key, m.new_key
      FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
     CROSS JOIN LATERAL (SELECT FROM issuance.credentials c WHERE c.learner_key = m.old_key
                         UNION ALL
                         SELECT FROM issuance.stacks s WHERE s.learner_key = m.old_key
                         LIMIT 1) AS carried
     WHERE EXISTS (SELECT FROM superseded_present)
), rekeyed AS (
    UPDATE issuance.credentials AS c SET learner_key = m.new_key
      FROM stale AS m
     WHERE c.learner_key = m.old_key AND c.learner_key = ANY (ARRAY(SELECT old_key FROM stale))
)
UPDATE issuance.stacks AS s SET learner_key = m.new_key
  FROM stale AS m
 WHERE s.learner_key = m.old_key AND s.learner_key = ANY (ARRAY(SELECT old_key FROM stale))

-- name: credential
SELECT credential_id, issuer_id, issuer_reference, achievement_id, learner_hash, learner_key, identity_type,
       identity_salt, holder_token_hash, key_id, signing, pathway_id, valid_from, valid_until, status
  FROM issuance.credentials
 WHERE credential_id = $1

-- name: credentials_by_id
SELECT credential_id, issuer_id, issuer_reference, achievement_id, learner_hash, learner_key, identity_type,
       identity_salt, holder_token_hash, key_id, signing, pathway_id, valid_from, valid_until, status
  FROM issuance.credentials
 WHERE credential_id = ANY($1::text[])

-- name: credentials_of_learner
SELECT credential_id, issuer_id, issuer_reference, achievement_id, learner_hash, learner_key, identity_type,
       identity_salt, holder_token_hash, key_id, signing, pathway_id, valid_from, valid_until, status
  FROM issuance.credentials
 WHERE learner_key = $1
 ORDER BY valid_from DESC, credential_id

-- name: issuer_knows_learner
SELECT EXISTS (SELECT 1 FROM issuance.credentials WHERE learner_key = $1 AND issuer_id = $2)

-- name: credential_status
SELECT status FROM issuance.credentials WHERE credential_id = $1 FOR UPDATE

-- name: set_status
UPDATE issuance.credentials SET status = $2 WHERE credential_id = $1

-- name: claim_stack
-- A conflict on the stack id or on (pathway, learner key) is the same award.
INSERT INTO issuance.stacks (
    stack_id, pathway_id, learner_hash, learner_key, award_credential_id, component_ids, automatic)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING
RETURNING stack_id

-- name: stacks_of_learner
-- Awards the learner holds: a revoked award no longer counts as held.
SELECT s.stack_id, s.pathway_id, s.award_credential_id
  FROM issuance.stacks s JOIN issuance.credentials c ON c.credential_id = s.award_credential_id
 WHERE s.learner_key = $1 AND c.status <> 'revoked'

-- name: stack_rounds
-- Every award of one pathway to one learner, with whether it was revoked.
SELECT s.stack_id, c.status = 'revoked' AS revoked
  FROM issuance.stacks s JOIN issuance.credentials c ON c.credential_id = s.award_credential_id
 WHERE s.pathway_id = $1 AND s.learner_key = $2

-- name: rekey_credentials
-- Learners seen again: rows keyed under a superseded secret ($1, one per
-- pair) take the current key ($2). `= ANY ($1)`, implied by the join, lets
-- the planner go by the learner_key index: on the join alone it scanned the
-- whole table (migration 0310 says more).
UPDATE issuance.credentials AS c SET learner_key = m.new_key
  FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
 WHERE c.learner_key = m.old_key AND c.learner_key = ANY (ARRAY(SELECT unnest($1::text[])))

-- name: rekey_stacks
UPDATE issuance.stacks AS s SET learner_key = m.new_key
  FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
 WHERE s.learner_key = m.old_key AND s.learner_key = ANY (ARRAY(SELECT unnest($1::text[])))

-- name: idempotent_response
SELECT fingerprint, response
  FROM issuance.idempotency_keys
 WHERE client_id = $1 AND idempotency_key = $2

-- name: save_idempotent_response
INSERT INTO issuance.idempotency_keys (client_id, idempotency_key, fingerprint, response)
VALUES ($1, $2, $3, $4)
ON CONFLICT (client_id, idempotency_key) DO NOTHING
RETURNING client_id

-- name: redeem_credits
-- Rows already taken (same component, same pool) are left out of RETURNING.
INSERT INTO issuance.credit_redemptions (
    credential_id, credit_pool, award_credential_id, stack_id, pathway_id, agreement_id, credits)
SELECT c, $2, $3, $4, $5, a, k FROM unnest($1::text[], $6::text[], $7::float8[]) AS r (c, a, k)
ON CONFLICT DO NOTHING
RETURNING credential_id

-- name: redeemed_in_pool
SELECT credential_id, award_credential_id FROM issuance.credit_redemptions
 WHERE credit_pool = $1 AND credential_id = ANY($2::text[])

-- name: redemptions_of
SELECT credential_id, credit_pool, award_credential_id, pathway_id, agreement_id, credits
  FROM issuance.credit_redemptions WHERE credential_id = ANY($1::text[])
 ORDER BY redeemed_at

-- name: release_redemptions
DELETE FROM issuance.credit_redemptions WHERE award_credential_id = $1

-- name: insert_credit_grant
INSERT INTO issuance.credit_grants (grant_id, learner_key, issuer_id, valid_until) VALUES ($1, $2, $3, $4)

-- name: credit_grant
SELECT grant_id, learner_key, issuer_id, valid_until, revoked_at FROM issuance.credit_grants WHERE grant_id = $1

-- name: revoke_credit_grant
UPDATE issuance.credit_grants SET revoked_at = now() WHERE grant_id = $1 AND revoked_at IS NULL

-- name: purge_idempotency_keys
DELETE FROM issuance.idempotency_keys WHERE created_at < now() - $1::interval

-- name: claim_status_entries
-- Revocation's interface for status entries (its migration 0221): issuance
-- never touches revocation.status_lists itself.
SELECT list_id, permutation_key, size, first, granted
  FROM revocation.claim_status_entries($1, $2, $3, $4, $5, $6)
