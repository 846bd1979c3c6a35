-- name: references_taken
SELECT issuer_reference, credential_id, achievement_id, learner_hash, learner_key
  FROM issuance.credentials
 WHERE issuer_id = $1 AND issuer_reference = ANY($2::text[])

-- name: claim_credentials
-- Rows arrive sorted by reference, so concurrent batches that share
-- references take the unique-index locks in the same order (no deadlock).
-- A reference another transaction claimed first is skipped here, after
-- waiting for that transaction to finish; the caller reports it as existing.
INSERT INTO issuance.credentials (
    credential_id, issuer_id, issuer_reference, achievement_id, learner_hash, learner_key, identity_type,
    identity_salt, holder_token_hash, key_id, signing, pathway_id, valid_from, valid_until)
SELECT * FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[])
ON CONFLICT (issuer_id, issuer_reference) DO NOTHING
RETURNING credential_id

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

-- name: set_status
UPDATE issuance.credentials SET status = $2 WHERE credential_id = $1 AND status <> 'revoked'

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
-- pair) take the current key ($2).
UPDATE issuance.credentials AS c SET learner_key = m.new_key
  FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
 WHERE c.learner_key = m.old_key

-- name: rekey_stacks
UPDATE issuance.stacks AS s SET learner_key = m.new_key
  FROM unnest($1::text[], $2::text[]) AS m (old_key, new_key)
 WHERE s.learner_key = m.old_key

-- name: idempotent_response
SELECT fingerprint, response
  FROM issuance.idempotency_keys
 WHERE client_id = $1 AND idempotency_key = $2

-- name: save_idempotent_response
INSERT INTO issuance.idempotency_keys (client_id, idempotency_key, fingerprint, response)
VALUES ($1, $2, $3, $4)
ON CONFLICT (client_id, idempotency_key) DO NOTHING
RETURNING client_id

-- name: claim_status_entries
-- Revocation's interface for status entries (its migration 0221): issuance
-- never touches revocation.status_lists itself.
SELECT list_id, permutation_key, size, first, granted
  FROM revocation.claim_status_entries($1, $2, $3, $4, $5, $6)
