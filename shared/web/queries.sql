-- name: create_session
INSERT INTO web.sessions (realm, id_hash, sealed_subject, csrf_token, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: load_session
SELECT sealed_subject, csrf_token FROM web.sessions
WHERE realm = $1 AND id_hash = $2 AND expires_at > now();

-- name: delete_session
DELETE FROM web.sessions WHERE realm = $1 AND id_hash = $2;

-- name: purge_sessions
DELETE FROM web.sessions WHERE expires_at < now();

-- name: create_link
INSERT INTO web.sign_in_links (realm, token_hash, sealed_subject, next_path, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: peek_link
SELECT 1 FROM web.sign_in_links
WHERE realm = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > now();

-- name: consume_link
-- Single use even under concurrent clicks: only one UPDATE finds used_at NULL.
UPDATE web.sign_in_links SET used_at = now()
WHERE realm = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > now()
RETURNING sealed_subject, next_path;

-- name: purge_links
DELETE FROM web.sign_in_links WHERE expires_at < now() - interval '1 day';

-- name: count_attempts
SELECT count(*) FROM web.sign_in_attempts
WHERE realm = $1 AND bucket = $2 AND attempted_at > now() - make_interval(secs => $3);

-- name: record_attempt
INSERT INTO web.sign_in_attempts (realm, bucket) VALUES ($1, $2);

-- name: purge_attempts
DELETE FROM web.sign_in_attempts WHERE attempted_at < now() - interval '1 day';
