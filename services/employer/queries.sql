-- name: upsert_organisation
-- The key a first user signs in with becomes the one the portal acts with
-- (a later sign-in with a newer key replaces a revoked one).
INSERT INTO employer.organisations (tenant_id, client_id, sealed_key) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id) DO UPDATE SET client_id = EXCLUDED.client_id, sealed_key = EXCLUDED.sealed_key

-- name: organisation
SELECT tenant_id, client_id, sealed_key FROM employer.organisations WHERE tenant_id = $1

-- name: upsert_admin
INSERT INTO employer.users (user_id, tenant_id, email, role) VALUES ($1, $2, $3, 'admin')
ON CONFLICT (tenant_id, email) DO UPDATE SET role = 'admin'
RETURNING user_id, tenant_id, email, role

-- name: invite_user
INSERT INTO employer.users (user_id, tenant_id, email, role, invited_by) VALUES ($1, $2, $3, 'member', $4)
ON CONFLICT (tenant_id, email) DO NOTHING
RETURNING user_id, tenant_id, email, role

-- name: user_by_id
SELECT user_id, tenant_id, email, role FROM employer.users WHERE user_id = $1

-- name: users_by_email
SELECT user_id, tenant_id, email, role FROM employer.users WHERE email = $1 ORDER BY created_at

-- name: users_of_tenant
SELECT user_id, email, role, created_at FROM employer.users WHERE tenant_id = $1 ORDER BY created_at

-- name: insert_check
INSERT INTO employer.checks (check_id, tenant_id, user_id, kind, label, status)
VALUES ($1, $2, $3, $4, $5, 'queued')

-- name: job_submitted
UPDATE employer.checks SET job_id = $2, total = $3, updated_at = now() WHERE check_id = $1

-- name: check_failed
UPDATE employer.checks SET status = 'failed', error = $2, updated_at = now() WHERE check_id = $1

-- name: check_of_tenant
SELECT check_id, tenant_id, kind, label, job_id, status, total, done, counts, error, created_at, updated_at
  FROM employer.checks WHERE check_id = $1 AND tenant_id = $2

-- name: history
SELECT c.check_id, c.kind, c.label, c.status, c.total, c.done, c.counts, c.created_at, u.email AS by_email
  FROM employer.checks c JOIN employer.users u USING (user_id)
 WHERE c.tenant_id = $1
 ORDER BY c.created_at DESC
 LIMIT $2

-- name: unfinished_checks
SELECT check_id, tenant_id, job_id, status, total FROM employer.checks
 WHERE status IN ('queued', 'running', 'importing') AND job_id IS NOT NULL
 ORDER BY created_at
 LIMIT 20

-- name: progressed
UPDATE employer.checks SET status = $2, done = $3, counts = $4, error = $5, updated_at = now()
 WHERE check_id = $1

-- name: claim_import
-- One replica imports a finished job's answers; one that died importing
-- leaves a claim that expires.
UPDATE employer.checks SET status = 'importing', done = $2, counts = $3, error = $4, updated_at = now()
 WHERE check_id = $1
   AND (status IN ('queued', 'running') OR (status = 'importing' AND updated_at < now() - interval '2 minutes'))
RETURNING check_id

-- name: single_done
UPDATE employer.checks SET status = 'completed', total = 1, done = 1, counts = $2, updated_at = now()
 WHERE check_id = $1

-- name: clear_results
DELETE FROM employer.results WHERE check_id = $1

-- name: results_page
-- Candidates without an answer yet (a job still running) show as pending.
SELECT c.row_no, c.name, c.email, c.credential, r.verdict, r.credential_id, r.title, r.issuer, r.issued_on,
       r.identity, r.reasons
  FROM employer.candidates c
  LEFT JOIN employer.results r USING (check_id, row_no)
 WHERE c.check_id = $1 AND ($2::text IS NULL OR r.verdict = $2)
 ORDER BY c.row_no
 LIMIT $3 OFFSET $4

-- name: result_rows
SELECT c.row_no, c.name, c.email, c.credential, r.verdict, r.credential_id, r.title, r.issuer, r.issued_on,
       r.identity, r.reasons
  FROM employer.candidates c
  LEFT JOIN employer.results r USING (check_id, row_no)
 WHERE c.check_id = $1 AND c.row_no >= $2 AND ($3::text IS NULL OR r.verdict = $3)
 ORDER BY c.row_no
 LIMIT $4
