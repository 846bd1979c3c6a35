-- Named SQL of the revocation service (see shared/db/sql.py).

-- name: issuers_of
SELECT credential_id, issuer_id
  FROM revocation.credentials
 WHERE credential_id = ANY($1::text[])

-- name: insert_credential
INSERT INTO revocation.credentials (
    credential_id, issuer_id, achievement_id, key_id, learner_hash, issued_at, pathway_id,
    components, revocation_list_id, revocation_index, suspension_list_id, suspension_index)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (credential_id) DO NOTHING

-- name: fill_lock_timeout
SET LOCAL lock_timeout = '200ms'

-- name: current_status
SELECT status, status_version FROM revocation.credentials WHERE credential_id = $1

-- name: set_statuses
-- The projection: new statuses as of stream versions ($1 ids, $2 statuses,
-- $3 versions); an older version never overwrites a newer one. Both lists
-- of each changed credential are marked (a bit may have moved in either).
WITH changed AS (
    UPDATE revocation.credentials c
       SET status = v.status, status_version = v.version
      FROM unnest($1::text[], $2::text[], $3::integer[]) AS v (credential_id, status, version)
     WHERE c.credential_id = v.credential_id AND c.status_version < v.version
    RETURNING c.revocation_list_id, c.suspension_list_id
)
INSERT INTO revocation.list_changes (list_id)
SELECT list_id
  FROM changed CROSS JOIN LATERAL unnest(ARRAY[revocation_list_id, suspension_list_id]) AS list_id
 WHERE list_id IS NOT NULL

-- name: write_through_statuses
-- The same from the command that appended the events, while it holds the
-- append lock: rows the projection has locked are skipped rather than
-- waited for (the projection may be waiting for the append lock); it will
-- apply those events itself, their versions being newer.
WITH target AS (
    SELECT c.credential_id, v.status, v.version
      FROM unnest($1::text[], $2::text[], $3::integer[]) AS v (credential_id, status, version)
      JOIN revocation.credentials c ON c.credential_id = v.credential_id
     WHERE c.status_version < v.version
       FOR UPDATE OF c SKIP LOCKED
), changed AS (
    UPDATE revocation.credentials c
       SET status = t.status, status_version = t.version
      FROM target t
     WHERE c.credential_id = t.credential_id
    RETURNING c.revocation_list_id, c.suspension_list_id
)
INSERT INTO revocation.list_changes (list_id)
SELECT list_id
  FROM changed CROSS JOIN LATERAL unnest(ARRAY[revocation_list_id, suspension_list_id]) AS list_id
 WHERE list_id IS NOT NULL

-- name: mark_issuer_lists
-- A key of the issuer was compromised as of ledger position $2: every list
-- is re-signed by a signer whose registry view includes that.
INSERT INTO revocation.list_changes (list_id, registry_position)
SELECT list_id, $2 FROM revocation.status_lists WHERE issuer_id = $1

-- name: awards_containing
SELECT credential_id, pathway_id
  FROM revocation.credentials
 WHERE components @> ARRAY[$1]::text[] AND status <> 'revoked'
 ORDER BY credential_id

-- name: signed_with_key_since
SELECT credential_id
  FROM revocation.credentials
 WHERE issuer_id = $1 AND key_id = $2 AND issued_at >= $3 AND status <> 'revoked'
 ORDER BY issued_at, credential_id

-- name: issued_after
SELECT credential_id
  FROM revocation.credentials
 WHERE issuer_id = $1 AND issued_at > $2 AND status <> 'revoked'
 ORDER BY issued_at, credential_id

-- name: lists_due
SELECT c.list_id, c.last_change, c.registry_position, s.issuer_id, s.purpose, s.size
  FROM (SELECT list_id, max(change_id) AS last_change, max(registry_position) AS registry_position
          FROM revocation.list_changes
         GROUP BY list_id) c
  JOIN revocation.status_lists s USING (list_id)
 ORDER BY c.list_id
 LIMIT $1

-- name: lists_due_of_credentials
-- The lists that carry the status of these credentials and have changes
-- not yet published (to publish them before the changes are acknowledged).
SELECT DISTINCT lists.list_id
  FROM revocation.credentials c
 CROSS JOIN LATERAL unnest(ARRAY[c.revocation_list_id, c.suspension_list_id]) AS lists (list_id)
 WHERE c.credential_id = ANY($1::text[]) AND lists.list_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM revocation.list_changes l WHERE l.list_id = lists.list_id)

-- name: list_due
-- One list's row of lists_due, if it has changes not yet published.
SELECT c.list_id, c.last_change, c.registry_position, s.issuer_id, s.purpose, s.size
  FROM (SELECT list_id, max(change_id) AS last_change, max(registry_position) AS registry_position
          FROM revocation.list_changes
         WHERE list_id = $1
         GROUP BY list_id) c
  JOIN revocation.status_lists s USING (list_id)

-- name: revoked_indexes
SELECT revocation_index FROM revocation.credentials
 WHERE revocation_list_id = $1 AND status = 'revoked'

-- name: suspended_indexes
SELECT suspension_index FROM revocation.credentials
 WHERE suspension_list_id = $1 AND status = 'suspended'

-- name: save_publication
-- In the snapshot the bits were read in: the changes it saw are forgotten,
-- those committed since stay and cause another regeneration. A slower
-- replica that signed an older state never overwrites a newer one.
WITH saved AS (
    INSERT INTO revocation.list_publications (list_id, published_change, key_id, document, etag)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (list_id) DO UPDATE
       SET published_change = EXCLUDED.published_change, key_id = EXCLUDED.key_id,
           document = EXCLUDED.document, etag = EXCLUDED.etag, published_at = now()
     WHERE revocation.list_publications.published_change < EXCLUDED.published_change
)
DELETE FROM revocation.list_changes WHERE list_id = $1 AND change_id <= $2

-- name: publication
-- `pending`: changes were committed since the list was last signed.
SELECT s.purpose, s.size, p.document, p.etag,
       EXISTS (SELECT 1 FROM revocation.list_changes c WHERE c.list_id = s.list_id) AS pending
  FROM revocation.status_lists s
  LEFT JOIN revocation.list_publications p USING (list_id)
 WHERE s.list_id = $1

-- name: claim_idempotency_key
-- Waits for a concurrent request holding the same key to finish; then the
-- key is taken (no row returned) or, if that request failed, ours.
INSERT INTO revocation.idempotency_keys (client_id, idempotency_key, fingerprint)
VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING true

-- name: idempotent_response
SELECT fingerprint, status, response
  FROM revocation.idempotency_keys
 WHERE client_id = $1 AND idempotency_key = $2

-- name: save_idempotent_response
UPDATE revocation.idempotency_keys SET status = $3, response = $4
 WHERE client_id = $1 AND idempotency_key = $2

-- name: purge_idempotency_keys
DELETE FROM revocation.idempotency_keys WHERE created_at < now() - $1::interval

-- name: insert_award_admissions
INSERT INTO revocation.award_admissions (award_credential_id, component_id, agreement_id)
SELECT $1, c, a FROM unnest($2::text[], $3::text[]) AS x (c, a)
ON CONFLICT DO NOTHING

-- name: awards_admitted_by
-- Awards, not revoked, with a component a recognition agreement admitted.
SELECT DISTINCT a.award_credential_id AS credential_id
  FROM revocation.award_admissions a JOIN revocation.credentials c ON c.credential_id = a.award_credential_id
 WHERE a.agreement_id = $1 AND c.status <> 'revoked'
 ORDER BY 1
