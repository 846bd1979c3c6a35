-- name: share_links
SELECT share_id, name, sealed_token, created_at, expires_at, revoked_at
  FROM wallet.share_links WHERE credential_id = $1 ORDER BY created_at DESC;

-- name: insert_share_link
INSERT INTO wallet.share_links (share_id, credential_id, name, sealed_token, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: revoke_share_link
UPDATE wallet.share_links SET revoked_at = $3
 WHERE share_id = $1 AND credential_id = $2 AND revoked_at IS NULL
RETURNING share_id;

-- name: is_private
SELECT private FROM wallet.privacy WHERE credential_id = $1;

-- name: set_privacy
-- True when this changed the setting (no event for a repeated click).
WITH previous AS (SELECT private FROM wallet.privacy WHERE credential_id = $1),
     upsert AS (
       INSERT INTO wallet.privacy (credential_id, private, changed_at) VALUES ($1, $2, $3)
       ON CONFLICT (credential_id) DO UPDATE SET private = EXCLUDED.private, changed_at = EXCLUDED.changed_at
       RETURNING 1)
SELECT (SELECT count(*) FROM upsert) > 0 AND COALESCE((SELECT private FROM previous), false) IS DISTINCT FROM $2;

-- name: queue_claim
INSERT INTO wallet.claim_mails (credential_id) VALUES ($1) ON CONFLICT DO NOTHING;

-- name: due_claims
SELECT credential_id, attempts FROM wallet.claim_mails
 WHERE sent_at IS NULL AND next_attempt_at <= now()
 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED;

-- name: claim_sent
UPDATE wallet.claim_mails SET sent_at = now(), attempts = attempts + 1, last_error = $2 WHERE credential_id = $1;

-- name: claim_failed
UPDATE wallet.claim_mails
   SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
 WHERE credential_id = $1;
