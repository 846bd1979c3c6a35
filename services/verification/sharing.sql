-- name: share_link
SELECT credential_id, expires_at, revoked_at FROM verification.share_links WHERE token_hash = $1;

-- name: is_private
SELECT EXISTS (SELECT 1 FROM verification.private_credentials WHERE credential_id = $1);

-- name: insert_share_link
INSERT INTO verification.share_links (token_hash, share_id, credential_id, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING;

-- name: revoke_share_link
UPDATE verification.share_links SET revoked_at = $2 WHERE share_id = $1 AND revoked_at IS NULL;

-- name: make_private
INSERT INTO verification.private_credentials (credential_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: make_public
DELETE FROM verification.private_credentials WHERE credential_id = $1;
